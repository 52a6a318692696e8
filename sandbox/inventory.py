"""Deterministic, realistic phone-number inventory for the sandbox.

Numbers are made from ``phonenumbers``' own example numbers: a handful of valid prefixes
is found per country and kind (mobile or landline), then random subscriber digits are
appended and every result is checked with ``is_valid_number``. Checking only validity
in bulk (not the number type) keeps 100,000 numbers within about a second.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import PhoneNumberType

from app.seven.types import (
    ActiveNumber,
    AvailableFees,
    AvailableNumber,
    Billing,
    EmailForward,
    Features,
    Fees,
    ForwardSmsMo,
    IntervalFees,
    PaymentInterval,
    SmsForward,
)

BERLIN = ZoneInfo("Europe/Berlin")
SEVEN_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # seven's "created" format, Berlin local time

#: Countries the sandbox sells numbers in, with a price level (1.0 = German prices).
COUNTRIES: dict[str, float] = {
    "DE": 1.0,
    "AT": 1.0,
    "CH": 1.5,
    "DK": 1.0,
    "GB": 1.0,
    "FR": 1.0,
    "NL": 1.0,
    "SE": 1.2,
    "BE": 1.0,
    "ES": 0.8,
    "PL": 0.7,
    "US": 0.5,
}

_KINDS = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE)
_MONTHLY_TENTHS = (49, 99, 149, 199, 299, 499)  # basic charge per month in tenths of EUR
_SMS_MO = (Decimal("0"), Decimal("0"), Decimal("0.0075"), Decimal("0.01"))
_VOICE_MO = (Decimal("0"), Decimal("0.01"), Decimal("0.015"), Decimal("0.02"))
_SUFFIX_DIGITS = 5  # random digits after a known-valid prefix


def now_berlin() -> datetime:
    """Current Berlin wall-clock time without tzinfo, like seven's strings."""
    return datetime.now(BERLIN).replace(tzinfo=None, microsecond=0)


def format_seven_time(moment: datetime) -> str:
    return moment.strftime(SEVEN_TIME_FORMAT)


def parse_seven_time(text: str) -> datetime:
    return datetime.strptime(text, SEVEN_TIME_FORMAT)


def eur(tenths: int) -> Decimal:
    """EUR from tenths; division keeps the shortest form (29.9, 49, 0) for the JSON."""
    return Decimal(tenths) / 10


def digits_of(number: phonenumbers.PhoneNumber) -> str:
    """seven's spelling: digits only, country code first, no ``+``."""
    return f"{number.country_code}{number.national_number}"


def international(number: str) -> str:
    return phonenumbers.format_number(
        phonenumbers.parse("+" + number), phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )


def country_of(number: str) -> str | None:
    """ISO country of a digits-only number, or None when it is not a valid number."""
    try:
        parsed = phonenumbers.parse("+" + number)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.region_code_for_number(parsed)


@dataclass
class _NumberFactory:
    """Valid numbers of one country and kind: known-good prefixes plus random digits."""

    region: str
    kind: int
    rng: random.Random
    prefixes: list[str] = field(default_factory=list)

    trusted: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        example = phonenumbers.example_number_for_type(self.region, self.kind)
        if example is None:
            raise ValueError(f"phonenumbers has no example for {self.region}/{self.kind}")
        self.country_code = example.country_code
        template = str(example.national_number)
        keep = max(1, len(template) - _SUFFIX_DIGITS)
        self.suffix_len = len(template) - keep
        # Look for up to 12 distinct prefixes whose numbers are valid and of the right kind.
        for _ in range(400):
            candidate = template[0] + self._digits(keep - 1)
            if candidate not in self.prefixes and self._is_kind(candidate):
                self.prefixes.append(candidate)
                if len(self.prefixes) >= 12:
                    break
        if not self.prefixes:
            self.prefixes.append(template[:keep])
        # A prefix whose numbers were valid for 8 random suffixes is valid for all of them in
        # phonenumbers' metadata (patterns constrain the leading digits); skipping the check
        # for those is what makes 100,000 numbers fast. Others are checked one by one.
        self.trusted = {p for p in self.prefixes if all(self._is_kind(p) for _ in range(8))}

    def _is_kind(self, prefix: str) -> bool:
        number = self._build(prefix + self._digits(self.suffix_len))
        # +1 is shared by the US, Canada and the Caribbean: the region must match too.
        return phonenumbers.region_code_for_number(number) == self.region and (
            phonenumbers.number_type(number) in (self.kind, PhoneNumberType.FIXED_LINE_OR_MOBILE)
        )

    def _digits(self, count: int) -> str:
        return f"{self.rng.randrange(10**count):0{count}d}" if count else ""

    def _build(self, national: str) -> phonenumbers.PhoneNumber:
        return phonenumbers.PhoneNumber(
            country_code=self.country_code, national_number=int(national)
        )

    def make(self, taken: set[str]) -> phonenumbers.PhoneNumber:
        """A new valid number not in ``taken`` (which it then joins)."""
        while True:
            national = self.rng.choice(self.prefixes) + self._digits(self.suffix_len)
            number = self._build(national)
            digits = digits_of(number)
            if digits in taken:
                continue
            prefix = national[: len(national) - self.suffix_len]
            if prefix in self.trusted or phonenumbers.is_valid_number_for_region(
                number, self.region
            ):
                taken.add(digits)
                return number


class Inventory:
    """Generates available and active numbers from one seed, never the same number twice."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.taken: set[str] = set()
        self._factories: dict[tuple[str, int], _NumberFactory] = {}
        # Fee and feature objects are frozen, so shared instances keep 100k numbers cheap.
        self._fee_cache: dict[tuple[object, ...], AvailableFees] = {}

    def _factory(self, region: str, kind: int) -> _NumberFactory:
        key = (region, kind)
        if key not in self._factories:
            self._factories[key] = _NumberFactory(region, kind, self.rng)
        return self._factories[key]

    def _features(self, kind: int) -> Features:
        rng = self.rng
        if kind == PhoneNumberType.MOBILE:
            return Features(sms=True, a2p_sms=rng.random() < 0.7, voice=rng.random() < 0.6)
        return Features(sms=rng.random() < 0.3, a2p_sms=False, voice=True)

    def _fees(self, region: str, kind: int) -> AvailableFees:
        rng = self.rng
        level = COUNTRIES.get(region, 1.0)
        monthly = max(9, round(rng.choice(_MONTHLY_TENTHS) * level / 10) * 10 - 1)
        if kind == PhoneNumberType.FIXED_LINE:
            monthly = max(9, monthly - 50)
        # Paying annually is cheaper per month, like seven's 29.9/month vs 238.8/year.
        discount = rng.choice((1.0, 0.8, 0.67))
        annual_per_month = max(9, round(monthly * discount / 10) * 10 - 1)
        setup_monthly = rng.choice((0, 99, 199))
        key = (monthly, annual_per_month, setup_monthly, rng.choice(_SMS_MO), rng.choice(_VOICE_MO))
        if key not in self._fee_cache:
            self._fee_cache[key] = AvailableFees(
                monthly=IntervalFees(basic_charge=eur(monthly), setup=eur(setup_monthly)),
                annually=IntervalFees(
                    basic_charge=eur(annual_per_month * 12), setup=eur(setup_monthly // 2)
                ),
                sms_mo=key[3],
                voice_mo=key[4],
            )
        return self._fee_cache[key]

    def available(self, per_country: int) -> Iterator[AvailableNumber]:
        for region in COUNTRIES:
            for index in range(per_country):
                kind = _KINDS[index % 3 == 2]  # two mobiles for each landline
                number = self._factory(region, kind).make(self.taken)
                yield AvailableNumber(
                    country=region,
                    number=digits_of(number),
                    number_parsed=phonenumbers.format_number(
                        number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
                    ),
                    fees=self._fees(region, kind),
                    features=self._features(kind),
                )

    def active(self, count: int, now: datetime) -> Iterator[ActiveNumber]:
        """Numbers already on the account: created up to three years ago, some configured."""
        regions = list(COUNTRIES)
        forward_pool = [
            digits_of(self._factory("DE", _KINDS[0]).make(self.taken)) for _ in range(50)
        ]
        plain = ForwardSmsMo()
        for index in range(count):
            region = regions[index % len(regions)]
            kind = _KINDS[self.rng.random() < 0.25]
            number = self._factory(region, kind).make(self.taken)
            fees = self._fees(region, kind)
            monthly = self.rng.random() < 0.4
            interval = PaymentInterval.MONTHLY if monthly else PaymentInterval.ANNUALLY
            created = now - timedelta(seconds=self.rng.randrange(3600, 3 * 365 * 86400))
            forward = plain
            if self.rng.random() < 0.2:
                forward = ForwardSmsMo(
                    sms=SmsForward(number=[self.rng.choice(forward_pool)], enabled=True),
                    email=EmailForward(address=[f"ops+{index}@example.com"], enabled=True),
                )
            created_text = format_seven_time(created)
            expires = None
            if self.rng.random() < 0.02:  # a few were already cancelled at period end
                expires = format_seven_time(period_end(created_text, interval, now))
            yield ActiveNumber(
                country=region,
                number=digits_of(number),
                friendly_name=f"Line {index}" if self.rng.random() < 0.3 else "",
                billing=Billing(fees=active_fees(fees, interval), payment_interval=interval),
                features=self._features(kind),
                forward_sms_mo=forward,
                expires=expires,
                created=created_text,
            )


def active_fees(fees: AvailableFees, interval: PaymentInterval) -> Fees:
    chosen = fees.monthly if interval == PaymentInterval.MONTHLY else fees.annually
    return Fees(
        setup=chosen.setup,
        basic_charge=chosen.basic_charge,
        sms_mo=fees.sms_mo,
        voice_mo=fees.voice_mo,
    )


def _add_months(moment: datetime, months: int) -> datetime:
    """Calendar months later, clamping the day (31 Jan + 1 month = 28/29 Feb)."""
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


def period_end(created: str, interval: PaymentInterval, now: datetime) -> datetime:
    """End of the billing period running at ``now`` for a number created at ``created``."""
    start = parse_seven_time(created)
    step = 1 if interval == PaymentInterval.MONTHLY else 12
    elapsed = (now.year - start.year) * 12 + now.month - start.month
    periods = max(1, elapsed // step)
    # The estimate can be one period early or late; walk to the first end after now.
    while periods > 1 and _add_months(start, (periods - 1) * step) > now:
        periods -= 1
    while _add_months(start, periods * step) <= now:
        periods += 1
    return _add_months(start, periods * step)
