"""Who is acting: a user of an office with roles, or the system itself (worker, peer node)."""

from __future__ import annotations

from dataclasses import dataclass, field

ROLES = ("operator", "verifier", "supervisor", "process_admin", "regency_officer", "system_admin")


@dataclass(frozen=True)
class Actor:
    username: str
    office_code: str | None  # None: every office (the system)
    roles: frozenset = field(default_factory=frozenset)
    display_name: str = ""

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(username=name, office_code=None, roles=frozenset(ROLES), display_name=name)

    @property
    def is_system(self) -> bool:
        return self.office_code is None

    def has_role(self, role: str) -> bool:
        return self.is_system or role in self.roles

    def sees_office(self, office_code: str) -> bool:
        return self.is_system or office_code == self.office_code
