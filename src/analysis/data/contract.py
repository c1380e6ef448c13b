"""The table contract (v1): the one place that says what a dataset holds.

Every table of a dataset directory is described here, column by column: type, whether
missing values are allowed, the allowed range or codes, the Japanese item name (項目名),
the unit and a description. The synthetic generator, the CSV importer, the validator
(pandera schemas built from these specs) and the data dictionary in ``data/README.md``
all read this module, so they cannot drift apart.

Departures from the key-column list in DESIGN.md, each needed by a later step:

- ``enrollment.household_id``: NHI is per household; clustered standard errors need it.
- ``enrollment.exit_reason``: why an enrollment spell ended (aging out at 75, moving,
  joining employee insurance, death); a person may have several spells.
- ``program_offers.risk_score``: the predicted risk the tier was cut from (the running
  variable of the regression-discontinuity design between the two programs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CONTRACT_VERSION = "1"

Kind = Literal["string", "int", "float", "date", "bool"]


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    Attributes
    ----------
    name : str
        Column name in the Parquet file.
    kind : {"string", "int", "float", "date", "bool"}
        Logical type. Dates are ISO dates (``date32`` in Parquet).
    nullable : bool
        Whether missing values are allowed.
    ja : str
        Japanese item name (項目名) used in the data dictionary and reports.
    en : str
        English label.
    unit : str
        Unit, or ``""``.
    min, max : float or None
        Inclusive bounds of plausible values (values outside are rejected on import).
    allowed : tuple or None
        Allowed codes.
    description : str
        What the column means, in English.
    """

    name: str
    kind: Kind
    nullable: bool = False
    ja: str = ""
    en: str = ""
    unit: str = ""
    min: float | None = None
    max: float | None = None
    allowed: tuple | None = None
    description: str = ""


@dataclass(frozen=True)
class Table:
    """One table of the contract: its columns, primary key and references."""

    name: str
    ja: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    references: dict[str, str] = field(default_factory=dict)
    """Foreign keys: ``{"column": "table.column"}``."""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")


SEX = ("M", "F")
SETTINGS = ("inpatient", "outpatient", "pharmacy", "dental")
PROGRAMS = ("vitality", "mystar")
RISK_TIERS = ("low", "middle", "high")
PROGRAM_LABELS = {
    "vitality": {"ja": "Vitality（運動）", "en": "Vitality (exercise)"},
    "mystar": {"ja": "Mystar（伴走支援）", "en": "Mystar (coaching)"},
}
"""Program names as published (Japanese, English)."""
RISK_TIER_LABELS = {
    "low": {"ja": "低リスク", "en": "low risk"},
    "middle": {"ja": "中リスク", "en": "middle risk"},
    "high": {"ja": "高リスク", "en": "high risk"},
}
"""Risk tiers as published (Japanese, English)."""
LETTER_VARIANTS = ("plain", "nudge")
EXIT_REASONS = ("age75", "moved", "employee_insurance", "death", "other")
URINE_PROTEIN_LABELS = {0: "−", 1: "±", 2: "+", 3: "2+", 4: "3+"}

_PID = Column(
    "person_id",
    "string",
    ja="個人番号(仮名化)",
    en="Person id (pseudonymous)",
    description="Pseudonymous person identifier (keyed hash on import).",
)


def _flag(name: str, ja: str, en: str, description: str) -> Column:
    return Column(name, "bool", nullable=True, ja=ja, en=en, description=description)


ENROLLMENT = Table(
    "enrollment",
    "資格",
    "NHI enrollment spells, one row per spell.",
    (
        _PID,
        Column(
            "household_id",
            "string",
            ja="世帯番号(仮名化)",
            en="Household id (pseudonymous)",
            description="NHI is billed per household; used for clustered standard errors.",
        ),
        Column("sex", "string", allowed=SEX, ja="性別", en="Sex", description="M = 男, F = 女."),
        Column("birth_date", "date", ja="生年月日", en="Date of birth"),
        Column("enroll_start", "date", ja="資格取得日", en="Enrollment start"),
        Column(
            "enroll_end",
            "date",
            nullable=True,
            ja="資格喪失日",
            en="Enrollment end",
            description="Last day enrolled; null = still enrolled at the data cut.",
        ),
        Column("death_date", "date", nullable=True, ja="死亡日", en="Date of death"),
        Column(
            "exit_reason",
            "string",
            nullable=True,
            allowed=EXIT_REASONS,
            ja="喪失事由",
            en="Reason enrollment ended",
            description="age75 (後期高齢者医療へ移行), moved (転出), employee_insurance "
            "(社保加入), death (死亡), other; null while enrolled.",
        ),
    ),
    primary_key=("person_id", "enroll_start"),
)

CHECKUPS = Table(
    "checkups",
    "健診",
    "特定健診 results (ages 40-74), at most one per person and fiscal year.",
    (
        _PID,
        Column("exam_date", "date", ja="健診受診日", en="Checkup date"),
        Column(
            "fiscal_year",
            "int",
            min=2000,
            max=2100,
            ja="年度",
            en="Fiscal year",
            description="April-March; FY2023 = 2023-04-01 to 2024-03-31.",
        ),
        Column(
            "height_cm", "float", nullable=True, min=120, max=210, ja="身長", en="Height", unit="cm"
        ),
        Column(
            "weight_kg", "float", nullable=True, min=25, max=200, ja="体重", en="Weight", unit="kg"
        ),
        Column("bmi", "float", nullable=True, min=10, max=70, ja="BMI", en="BMI", unit="kg/m²"),
        Column(
            "waist_cm", "float", nullable=True, min=40, max=180, ja="腹囲", en="Waist", unit="cm"
        ),
        Column(
            "sbp",
            "float",
            nullable=True,
            min=60,
            max=260,
            ja="収縮期血圧",
            en="Systolic BP",
            unit="mmHg",
        ),
        Column(
            "dbp",
            "float",
            nullable=True,
            min=30,
            max=160,
            ja="拡張期血圧",
            en="Diastolic BP",
            unit="mmHg",
        ),
        Column(
            "hba1c",
            "float",
            nullable=True,
            min=3.0,
            max=18.0,
            ja="HbA1c",
            en="HbA1c (NGSP)",
            unit="%",
        ),
        Column(
            "fasting_glucose",
            "float",
            nullable=True,
            min=40,
            max=600,
            ja="空腹時血糖",
            en="Fasting glucose",
            unit="mg/dL",
        ),
        Column(
            "ldl",
            "float",
            nullable=True,
            min=10,
            max=500,
            ja="LDLコレステロール",
            en="LDL cholesterol",
            unit="mg/dL",
        ),
        Column(
            "hdl",
            "float",
            nullable=True,
            min=10,
            max=200,
            ja="HDLコレステロール",
            en="HDL cholesterol",
            unit="mg/dL",
        ),
        Column(
            "tg",
            "float",
            nullable=True,
            min=10,
            max=3000,
            ja="中性脂肪",
            en="Triglycerides",
            unit="mg/dL",
        ),
        Column(
            "egfr",
            "float",
            nullable=True,
            min=2,
            max=200,
            ja="eGFR",
            en="eGFR",
            unit="mL/min/1.73m²",
        ),
        Column(
            "urine_protein",
            "int",
            nullable=True,
            min=0,
            max=4,
            allowed=(0, 1, 2, 3, 4),
            ja="尿蛋白",
            en="Urine protein (dipstick)",
            description="0 = −, 1 = ±, 2 = +, 3 = 2+, 4 = 3+.",
        ),
        _flag("smoker", "喫煙", "Current smoker", "Questionnaire: smokes habitually."),
        _flag(
            "exercise_habit",
            "運動習慣",
            "Exercise habit",
            "Questionnaire: sweat-inducing exercise ≥30 min, ≥2 times a week, for ≥1 year.",
        ),
        _flag(
            "walking_habit",
            "歩行習慣",
            "Walking habit",
            "Questionnaire: walking or equivalent activity ≥1 hour a day.",
        ),
        _flag("bp_med", "服薬1(血圧)", "On antihypertensives", "Questionnaire Q1."),
        _flag("glucose_med", "服薬2(血糖)", "On glucose-lowering drugs", "Questionnaire Q2."),
        _flag("lipid_med", "服薬3(脂質)", "On lipid-lowering drugs", "Questionnaire Q3."),
    ),
    primary_key=("person_id", "fiscal_year"),
    references={"person_id": "enrollment.person_id"},
)

CLAIMS = Table(
    "claims",
    "レセプト",
    "Monthly claims (レセプト), one per person, month and setting.",
    (
        Column("claim_id", "string", ja="レセプト番号", en="Claim id"),
        _PID,
        Column(
            "service_month",
            "date",
            ja="診療年月",
            en="Service month",
            description="First day of the month of service.",
        ),
        Column(
            "setting",
            "string",
            allowed=SETTINGS,
            ja="入外区分",
            en="Setting",
            description="inpatient (入院), outpatient (入院外), pharmacy (調剤), dental (歯科).",
        ),
        Column(
            "points",
            "int",
            min=0,
            max=100_000_000,
            ja="点数",
            en="Claim points",
            unit="点",
            description="Fee-schedule points; 1 point = 10 yen.",
        ),
        Column(
            "cost_yen",
            "int",
            min=0,
            max=1_000_000_000,
            ja="医療費",
            en="Cost",
            unit="円",
            description="points × 10.",
        ),
        Column("days", "int", min=0, max=31, ja="診療実日数", en="Days of care"),
    ),
    primary_key=("claim_id",),
    references={"person_id": "enrollment.person_id"},
)

CLAIM_DIAGNOSES = Table(
    "claim_diagnoses",
    "傷病名",
    "Diagnoses on each claim (ICD-10).",
    (
        Column("claim_id", "string", ja="レセプト番号", en="Claim id"),
        Column(
            "icd10",
            "string",
            ja="傷病名コード(ICD10)",
            en="ICD-10 code",
            description="ICD-10 code without the dot, e.g. E119, I10, N184.",
        ),
        Column("primary", "bool", ja="主傷病", en="Primary diagnosis"),
    ),
    primary_key=("claim_id", "icd10"),
    references={"claim_id": "claims.claim_id"},
)

CLAIM_PROCEDURES = Table(
    "claim_procedures",
    "診療行為",
    "Procedures of interest on each claim (e.g. dialysis).",
    (
        Column("claim_id", "string", ja="レセプト番号", en="Claim id"),
        Column("code", "string", ja="診療行為コード", en="Procedure code"),
        Column("label", "string", ja="診療行為名", en="Procedure label"),
    ),
    primary_key=("claim_id", "code"),
    references={"claim_id": "claims.claim_id"},
)

PROGRAM_OFFERS = Table(
    "program_offers",
    "事業案内",
    "Program offers (invitation letters), one per person and fiscal year.",
    (
        _PID,
        Column("fiscal_year", "int", min=2000, max=2100, ja="年度", en="Fiscal year"),
        Column(
            "program",
            "string",
            allowed=PROGRAMS,
            ja="事業",
            en="Program",
            description="vitality (3-month gamified exercise) or mystar (6-month coaching).",
        ),
        Column("risk_tier", "string", allowed=RISK_TIERS, ja="リスク区分", en="Risk tier"),
        Column(
            "risk_score",
            "float",
            nullable=True,
            min=0,
            max=1,
            ja="リスクスコア",
            en="Predicted risk",
            description="Predicted 5-year risk the tier was cut from.",
        ),
        Column("offer_date", "date", ja="案内送付日", en="Offer date"),
        Column(
            "letter_variant",
            "string",
            allowed=LETTER_VARIANTS,
            ja="案内文の種類",
            en="Letter variant",
            description="plain or nudge (randomised).",
        ),
    ),
    primary_key=("person_id", "fiscal_year"),
    references={"person_id": "enrollment.person_id"},
)

PROGRAM_ENROLLMENTS = Table(
    "program_enrollments",
    "事業参加",
    "Program participation, one per person, fiscal year and program.",
    (
        _PID,
        Column("fiscal_year", "int", min=2000, max=2100, ja="年度", en="Fiscal year"),
        Column("program", "string", allowed=PROGRAMS, ja="事業", en="Program"),
        Column("start_date", "date", ja="参加開始日", en="Start date"),
        Column("end_date", "date", ja="参加終了日", en="End date"),
        Column("completed", "bool", ja="修了", en="Completed"),
        Column("sessions", "int", min=0, max=100, ja="面談回数", en="Sessions attended"),
    ),
    primary_key=("person_id", "fiscal_year", "program"),
    references={"person_id": "enrollment.person_id"},
)

ACTIVITY = Table(
    "activity",
    "歩数",
    "Weekly mean steps from wearables (participants only).",
    (
        _PID,
        Column("week_start", "date", ja="週の開始日", en="Week start", description="A Monday."),
        Column(
            "steps_per_day",
            "int",
            min=0,
            max=100_000,
            ja="1日平均歩数",
            en="Steps per day",
            unit="歩",
        ),
    ),
    primary_key=("person_id", "week_start"),
    references={"person_id": "enrollment.person_id"},
)

EVENTS = Table(
    "events",
    "イベント",
    "Sports-community events.",
    (
        Column("event_id", "string", ja="イベント番号", en="Event id"),
        Column("date", "date", ja="開催日", en="Date"),
        Column("theme", "string", ja="テーマ", en="Theme"),
    ),
    primary_key=("event_id",),
)

EVENT_ATTENDANCE = Table(
    "event_attendance",
    "イベント参加",
    "Who attended which event.",
    (
        Column("event_id", "string", ja="イベント番号", en="Event id"),
        _PID,
    ),
    primary_key=("event_id", "person_id"),
    references={"event_id": "events.event_id", "person_id": "enrollment.person_id"},
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        ENROLLMENT,
        CHECKUPS,
        CLAIMS,
        CLAIM_DIAGNOSES,
        CLAIM_PROCEDURES,
        PROGRAM_OFFERS,
        PROGRAM_ENROLLMENTS,
        ACTIVITY,
        EVENTS,
        EVENT_ATTENDANCE,
    )
}
"""All tables of the contract, by name, in dependency order."""

REQUIRED_TABLES = ("enrollment", "checkups", "claims", "claim_diagnoses")
"""Tables every dataset must have; the others may be absent (e.g. before any program)."""


def table(name: str) -> Table:
    """Return the contract of one table, or raise ``ValueError`` listing the valid names."""
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown table {name!r}; expected one of {', '.join(TABLES)}") from None


def arrow_schema(name: str):
    """The pyarrow schema a table is written with (column order as in the contract)."""
    import pyarrow as pa

    kinds = {
        "string": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "date": pa.date32(),
        "bool": pa.bool_(),
    }
    return pa.schema(
        [pa.field(c.name, kinds[c.kind], nullable=c.nullable) for c in table(name).columns]
    )
