"""A compiled contract as the texts it was compiled from, for the other processes of a run.

The processes that map documents for a run — ``--workers`` processes, ``--cluster`` tasks on
other machines — compile the contract the run checked from its text, handed to them with the
run; none of them opens a contract file, which may have changed since the run read it, or
name another contract where that process runs. The run records the texts' sha256
(``contract_sha256`` in its ``migration_run`` config).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from xmlmigrate.contract.combine import combine_contracts
from xmlmigrate.contract.compiled import compile_contract
from xmlmigrate.contract.model import CompiledContract
from xmlmigrate.errors import InfrastructureError


def contract_digest(texts: tuple[str, ...]) -> str:
    """The sha256 of a contract's text (``sha256sum`` of its file, for a file with LF line
    ends); of several contracts combined, the sha256 of their texts' digests, one per line."""
    digests = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("".join(f"{d}\n" for d in digests).encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class ContractTexts:
    """Each contract of a compiled contract (one, or the members of a combination) as its
    source name and TOML text, with their :func:`contract_digest`."""

    members: tuple[tuple[str, str], ...]
    digest: str

    @classmethod
    def of(cls, contract: CompiledContract) -> ContractTexts | None:
        """The texts ``contract`` was compiled from; None if one of its contracts was not
        compiled from a text (built in code)."""
        members = []
        for member in contract.members or (contract,):
            if member.text is None:
                return None
            members.append((member.source, member.text))
        return cls(tuple(members), contract_digest(tuple(t for _, t in members)))

    def compile(self) -> CompiledContract:
        """The contract, compiled again from the texts (a contract error names the source the
        run read it from)."""
        got = contract_digest(tuple(t for _, t in self.members))
        if got != self.digest:
            raise InfrastructureError(
                f"the contract arrived altered (sha256 {got[:12]}, sent {self.digest[:12]})"
            )
        return combine_contracts([compile_contract(text, source) for source, text in self.members])
