"""Seed files: validation and normalisation of the JSON that describes the initial state.

A seed is checked completely before the ledger is touched, so a bad seed never leaves a half
loaded ledger behind. Error messages name the offending element (``programs[0].currencies[1]``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from airflow_provider_altcraft.sandbox.values import ApiError, parse_amount, parse_rfc3339

__all__ = [
    "Currency",
    "MemberSeed",
    "Profile",
    "Program",
    "Seed",
    "SeedError",
    "TierSeed",
    "load_seed_file",
    "parse_seed",
]


class SeedError(ValueError):
    """The seed document is invalid; the message says where and why."""


@dataclass(frozen=True)
class Currency:
    iid: int
    eid: str
    default: bool = False


@dataclass(frozen=True)
class Tier:
    tier_id: int
    tier_eid: str
    tier_order: int


@dataclass(frozen=True)
class TiersGroup:
    id: int
    type: str
    tiers: tuple[Tier, ...]


@dataclass
class Program:
    id: int
    name: str
    currencies: list[Currency]
    tiers_groups: dict[int, TiersGroup]
    # Promotions are served as given (sorted by id); kept as plain JSON objects.
    promotions: list[dict[str, Any]]
    raw: dict[str, Any]


@dataclass
class Profile:
    profile_id: str
    email: str | None
    phone: str | None
    fields: dict[str, str]
    raw: dict[str, Any]


@dataclass(frozen=True)
class TierSeed:
    tier_eid: str
    reached_at: datetime | None


@dataclass
class MemberSeed:
    program_id: int
    profile_id: str
    registration_date: datetime | None
    balances: dict[int, Decimal]  # currency iid -> opening balance
    tiers: dict[int, TierSeed]  # tiers group id -> tier


@dataclass
class Seed:
    token: str | None = None
    programs: dict[int, Program] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    members: list[MemberSeed] = field(default_factory=list)


def _expect(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise SeedError(f"{where}: {message}")


def _int(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> int | None:
    value = obj.get(key)
    if value is None:
        _expect(not required, where, f"'{key}' is required")
        return None
    _expect(
        isinstance(value, int) and not isinstance(value, bool), where, f"'{key}' must be an int"
    )
    return int(value)


def _str(obj: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        _expect(not required, where, f"'{key}' is required")
        return None
    _expect(isinstance(value, str), where, f"'{key}' must be a string")
    return str(value)


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    _expect(isinstance(value, list), where, f"'{key}' must be a list")
    return list(value)


def _time(value: object, where: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_rfc3339(value, where)
    except ApiError as exc:
        raise SeedError(f"{where}: {exc.text}") from None


def _parse_program(raw: object, where: str) -> Program:
    _expect(isinstance(raw, dict), where, "must be an object")
    assert isinstance(raw, dict)
    pid = _int(raw, "id", where)
    assert pid is not None
    currencies: list[Currency] = []
    for i, cur in enumerate(_list(raw, "currencies", where)):
        cwhere = f"{where}.currencies[{i}]"
        _expect(isinstance(cur, dict), cwhere, "must be an object")
        iid = _int(cur, "iid", cwhere)
        eid = _str(cur, "eid", cwhere)
        default = cur.get("default", False)
        _expect(isinstance(default, bool), cwhere, "'default' must be a bool")
        assert iid is not None and eid is not None
        _expect(all(c.iid != iid for c in currencies), cwhere, f"duplicate currency iid {iid}")
        _expect(all(c.eid != eid for c in currencies), cwhere, f"duplicate currency eid {eid!r}")
        currencies.append(Currency(iid, eid, default))
    _expect(bool(currencies), where, "a program needs at least one currency")
    _expect(sum(c.default for c in currencies) <= 1, where, "at most one default currency")
    groups: dict[int, TiersGroup] = {}
    for i, grp in enumerate(_list(raw, "tiers_groups", where)):
        gwhere = f"{where}.tiers_groups[{i}]"
        _expect(isinstance(grp, dict), gwhere, "must be an object")
        gid = _int(grp, "id", gwhere)
        assert gid is not None
        _expect(gid not in groups, gwhere, f"duplicate tiers group id {gid}")
        tiers: list[Tier] = []
        for j, tier in enumerate(_list(grp, "tiers", gwhere)):
            twhere = f"{gwhere}.tiers[{j}]"
            _expect(isinstance(tier, dict), twhere, "must be an object")
            tid = _int(tier, "tier_id", twhere)
            teid = _str(tier, "tier_eid", twhere)
            order = _int(tier, "tier_order", twhere, required=False)
            assert tid is not None and teid is not None
            tiers.append(Tier(tid, teid, order if order is not None else j + 1))
        groups[gid] = TiersGroup(gid, _str(grp, "type", gwhere, required=False) or "", tuple(tiers))
    promotions: list[dict[str, Any]] = []
    seen: set[int] = set()
    for i, promo in enumerate(_list(raw, "promotions", where)):
        pwhere = f"{where}.promotions[{i}]"
        _expect(isinstance(promo, dict), pwhere, "must be an object")
        prid = _int(promo, "id", pwhere)
        assert prid is not None
        _expect(prid not in seen, pwhere, f"duplicate promotion id {prid}")
        seen.add(prid)
        _str(promo, "external_id", pwhere, required=False)
        active = promo.get("is_active", True)
        _expect(isinstance(active, bool), pwhere, "'is_active' must be a bool")
        promotions.append(
            {
                "id": prid,
                "name": promo.get("name", ""),
                "description": promo.get("description", ""),
                "external_id": promo.get("external_id"),
                "start_date": promo.get("start_date"),
                "end_date": promo.get("end_date"),
                "is_active": active,
                "redeem_rules": promo.get("redeem_rules", []),
                "accrual_rules": promo.get("accrual_rules", []),
            }
        )
    promotions.sort(key=lambda p: int(p["id"]))
    name = _str(raw, "name", where, required=False) or f"Program {pid}"
    return Program(pid, name, currencies, groups, promotions, raw)


def _parse_profile(raw: object, where: str) -> Profile:
    _expect(isinstance(raw, dict), where, "must be an object")
    assert isinstance(raw, dict)
    pid = _str(raw, "profile_id", where)
    assert pid is not None
    _expect(pid != "", where, "'profile_id' must not be empty")
    fields_raw = raw.get("fields", {})
    _expect(isinstance(fields_raw, dict), where, "'fields' must be an object")
    fields: dict[str, str] = {}
    for key, value in fields_raw.items():
        ok = isinstance(value, (str, int)) and not isinstance(value, bool)
        _expect(ok, where, f"fields.{key} must be a string or an int")
        fields[str(key)] = str(value)  # custom matching compares as strings
    return Profile(
        pid, _str(raw, "email", where, required=False), _str(raw, "phone", where, required=False),
        fields, raw,
    )  # fmt: skip


def _parse_member(raw: object, where: str, seed: Seed) -> MemberSeed:
    _expect(isinstance(raw, dict), where, "must be an object")
    assert isinstance(raw, dict)
    program_id = _int(raw, "program_id", where)
    profile_id = _str(raw, "profile_id", where)
    assert program_id is not None and profile_id is not None
    program = seed.programs.get(program_id)
    _expect(program is not None, where, f"unknown program_id {program_id}")
    assert program is not None
    _expect(profile_id in seed.profiles, where, f"unknown profile_id {profile_id!r}")
    balances: dict[int, Decimal] = {}
    bal_raw = raw.get("balances", {})
    _expect(isinstance(bal_raw, dict), where, "'balances' must be an object")
    for key, value in bal_raw.items():
        cur = next((c for c in program.currencies if key in (c.eid, str(c.iid))), None)
        _expect(
            cur is not None, where, f"balances: unknown currency {key!r} in program {program_id}"
        )
        assert cur is not None
        try:
            balances[cur.iid] = parse_amount(value, f"balances.{key}", allow_zero=True)
        except ApiError as exc:
            raise SeedError(f"{where}: {exc.text}") from None
    tiers: dict[int, TierSeed] = {}
    tiers_raw = raw.get("tiers", {})
    _expect(isinstance(tiers_raw, dict), where, "'tiers' must be an object")
    for key, value in tiers_raw.items():
        _expect(str(key).isdigit(), where, f"tiers: key {key!r} must be a tiers group id")
        group = program.tiers_groups.get(int(key))
        _expect(group is not None, where, f"tiers: unknown tiers group {key}")
        assert group is not None
        reached: datetime | None = None
        if isinstance(value, dict):
            reached = _time(value.get("reached_at"), f"{where}.tiers.{key}.reached_at")
            value = value.get("tier_eid")
        _expect(isinstance(value, str), where, f"tiers.{key} must be a tier_eid string")
        _expect(any(t.tier_eid == value for t in group.tiers), where, f"tiers.{key}: unknown tier")
        tiers[int(key)] = TierSeed(str(value), reached)
    registration = _time(raw.get("registration_date"), f"{where}.registration_date")
    return MemberSeed(program_id, profile_id, registration, balances, tiers)


def parse_seed(raw: object) -> Seed:
    """Validate a seed document (already decoded JSON) and return its normalised form."""
    _expect(isinstance(raw, dict), "seed", "must be a JSON object")
    assert isinstance(raw, dict)
    known = {"token", "programs", "profiles", "members"}
    unknown = sorted(set(raw) - known)
    _expect(not unknown, "seed", f"unknown keys {unknown}")
    seed = Seed(token=_str(raw, "token", "seed", required=False))
    for i, prog in enumerate(_list(raw, "programs", "seed")):
        program = _parse_program(prog, f"programs[{i}]")
        _expect(program.id not in seed.programs, f"programs[{i}]", f"duplicate id {program.id}")
        seed.programs[program.id] = program
    emails: set[str] = set()
    for i, prof in enumerate(_list(raw, "profiles", "seed")):
        profile = _parse_profile(prof, f"profiles[{i}]")
        where = f"profiles[{i}]"
        _expect(profile.profile_id not in seed.profiles, where, "duplicate profile_id")
        if profile.email is not None:
            _expect(profile.email.lower() not in emails, where, "duplicate email")
            emails.add(profile.email.lower())
        seed.profiles[profile.profile_id] = profile
    pairs: set[tuple[int, str]] = set()
    for i, mem in enumerate(_list(raw, "members", "seed")):
        member = _parse_member(mem, f"members[{i}]", seed)
        key = (member.program_id, member.profile_id)
        _expect(key not in pairs, f"members[{i}]", "duplicate membership")
        pairs.add(key)
        seed.members.append(member)
    return seed


def load_seed_file(path: str | Path) -> dict[str, Any]:
    """Read a seed file and validate it; returns the raw document (the reset target)."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SeedError(f"cannot read seed {path}: {exc}") from None
    parse_seed(raw)
    assert isinstance(raw, dict)
    return raw
