"""A model's shard map grouped by worker: where pushes and pulls go, and the map's epoch."""

from __future__ import annotations

from typing import Dict, List, Mapping

import grpc

from .errors import ShardoptError
from .v1 import service_pb2 as pb


class ShardLayout:
    """One shard map (GetShardMap) checked against the model's tensors. Immutable.

    ``push_shards``: every copy of every shard, by worker address (a push sends each worker exactly
    these). ``pull_shards``: the primaries (replica 0), by worker address (a pull reads each range
    once). ``replicated``: some range has a backup, so a pull names the shards it wants and a call
    a worker does not answer waits for the map to move. ``epoch``: a map with a larger one
    supersedes this one (a worker was declared dead and its shards' backups took over, or
    re-replication added a copy).
    """

    def __init__(self, shard_map: pb.ShardMap, sizes: Mapping[str, int]) -> None:
        where = "shard map of %s (epoch %d)" % (shard_map.model or "the model", shard_map.epoch)
        push: Dict[str, List[pb.Shard]] = {}
        pull: Dict[str, List[pb.Shard]] = {}
        covered = {name: 0 for name in sizes}
        for s in shard_map.shards:
            if s.tensor not in sizes:
                raise _malformed("%s: a shard on %s names tensor '%s', which the model does not have; it has %s"
                                 % (where, s.address, s.tensor, list(sizes)))
            if not s.address:
                raise _malformed("%s: the shard of '%s' at offset %d has no worker address" % (where, s.tensor, s.offset))
            push.setdefault(s.address, []).append(s)
            if s.replica == 0:
                pull.setdefault(s.address, []).append(s)
                covered[s.tensor] += s.length
        for name, size in sizes.items():
            if covered[name] != size:
                raise _malformed("%s: the primaries of '%s' hold %d elements, the tensor has %d"
                                 % (where, name, covered[name], size))
        order = lambda s: (s.tensor_index, s.offset)  # noqa: E731
        self.shard_map = shard_map
        self.epoch: int = int(shard_map.epoch)
        self.push_shards: Dict[str, List[pb.Shard]] = {a: sorted(v, key=order) for a, v in push.items()}
        self.pull_shards: Dict[str, List[pb.Shard]] = {a: sorted(v, key=order) for a, v in pull.items()}
        self.replicated: bool = any(s.replica for s in shard_map.shards)

    def __repr__(self) -> str:
        return "ShardLayout(epoch=%d, workers=%s, replicated=%s)" % (self.epoch, list(self.push_shards), self.replicated)


def _malformed(message: str) -> ShardoptError:
    return ShardoptError(message, grpc.StatusCode.INTERNAL)
