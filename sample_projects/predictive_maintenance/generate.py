"""Generate the predictive maintenance sample data.

Writes (relative to this folder):

* ``data/sensor_readings.csv``: 10,800 readings, 40 machines x 270 shifts (every 8 hours,
  January to March 2026), the training data.
* ``incoming/sensor_readings_2026_04.csv``: the next 3,600 readings (40 machines x 90
  shifts, April 2026), a later production batch with labels.

Everything is synthetic and drawn from ``numpy.random.default_rng(SEED)``, so running
``python generate.py`` twice writes byte-identical files. The machines are simulated
shift by shift: the tool wears down and is replaced, temperatures and speed wander,
and ``failure`` (about 3-4 % of readings) follows physically plausible rules, loosely
after the AI4I 2020 predictive maintenance data set, plus noise:

* tool wear failure: a worn tool (> 200 min) breaks now and then;
* heat dissipation failure: too small a gap between process and air temperature at low speed;
* power failure: mechanical power (torque x speed) too low or too high;
* overstrain failure: tool wear x torque above a limit that depends on the machine type;
* bearing failure: high vibration;
* a few random failures nobody can explain.

Problems planted on purpose, so the workbench's checks have something to find:

* Sensor dropouts: ``vibration_mm_s`` goes missing in runs of consecutive readings (~5 %),
  ``torque_nm`` (~2 %) and ``air_temperature_k`` (~1 %) drop out now and then.
* A constant column: ``firmware_version`` is "4.2.1" on every training row, so it carries
  no information (and changes to "4.3.0" in April).
* Target leakage: ``maintenance_ticket_opened`` is set by the technician *after* a failure,
  so it nearly equals the label and is not known when the prediction is needed.
* Imbalance: only about 3-4 % of readings are failures.

The April batch arrives after the firmware update, which changed the sensor calibration:
recorded temperatures read ~2.5 K high and vibration reads ~20 % higher, and the vibration
sensor drops out less often. The machines themselves behave as before (labels come from
the true physical state), so a model trained on the old readings sees shifted inputs.
"""

from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20260102
HERE = Path(__file__).resolve().parent

N_MACHINES = 40
N_TRAIN_SHIFTS = 270  # 90 days, three shifts a day
N_INCOMING_SHIFTS = 90  # 30 days
SHIFT_HOURS = 8
START = np.datetime64("2026-01-01T06:00:00", "s")

# machine_type -> (share, base speed rpm, tool wear per shift min, overstrain limit)
MACHINE_TYPES = {
    "lathe": (0.5, 1540, 9.0, 11_000),
    "mill": (0.3, 1500, 11.0, 12_000),
    "press": (0.2, 1450, 7.0, 13_000),
}


def simulate(rng: np.random.Generator) -> pd.DataFrame:
    """Simulate every machine for all shifts; returns the true physical state."""
    n_shifts = N_TRAIN_SHIFTS + N_INCOMING_SHIFTS
    type_names = list(MACHINE_TYPES)
    types = rng.choice(type_names, N_MACHINES, p=[MACHINE_TYPES[t][0] for t in type_names])
    rows = []
    for m in range(N_MACHINES):
        mtype = types[m]
        _, base_speed, wear_rate, strain_limit = MACHINE_TYPES[mtype]
        machine_id = f"M{m + 1:03d}"
        offset_minutes = int(rng.integers(0, 120))  # machines are not read at the same second
        air = 298.0 + rng.normal(0, 1.0)
        vib_base = rng.normal(2.2, 0.3)  # each machine has its own vibration signature
        wear = float(rng.integers(0, 150))
        wear_limit = rng.uniform(180, 240)
        for s in range(n_shifts):
            day = s * SHIFT_HOURS / 24
            season = 2.0 * np.sin(2 * np.pi * (day - 30) / 365)  # slow warm-up towards spring
            air = 0.85 * air + 0.15 * (298.0 + season) + rng.normal(0, 0.5)
            process = air + 10.0 + rng.normal(0, 1.0)
            speed = rng.normal(base_speed, 160)
            torque = max(5.0, rng.normal(40.0 - 0.02 * (speed - base_speed), 9.0))
            wear += wear_rate * rng.uniform(0.6, 1.4)
            vibration = max(
                0.3,
                vib_base + 0.006 * wear + rng.lognormal(-1.2, 0.6) + rng.normal(0, 0.25),
            )
            power = torque * speed * 2 * np.pi / 60  # watts

            risk = 0.002  # unexplained failures
            if wear > 200:
                risk += 0.04
            if process - air < 8.5 and speed < 1380:
                risk += 0.7
            if power < 2_800 or power > 9_800:
                risk += 0.6
            if wear * torque > strain_limit:
                risk += 0.7
            if vibration > 4.5:
                risk += 0.5
            failure = int(rng.random() < min(risk, 0.95))

            rows.append(
                (machine_id, START + np.timedelta64(s * SHIFT_HOURS * 60 + offset_minutes, "m"),
                 mtype, air, process, speed, torque, wear, vibration, failure, s)
            )
            if failure or wear > wear_limit:  # the tool is replaced after a failure or when worn
                wear = 0.0
                wear_limit = rng.uniform(180, 240)
    return pd.DataFrame(
        rows,
        columns=["machine_id", "timestamp", "machine_type", "air_temperature_k",
                 "process_temperature_k", "rotational_speed_rpm", "torque_nm",
                 "tool_wear_min", "vibration_mm_s", "failure", "shift"],
    )


def dropouts(
    rng: np.random.Generator, df: pd.DataFrame, column: str, share: float, run: float
) -> None:
    """Blank out a sensor: runs of consecutive readings per machine (mean length ``run``)."""
    start_p = share / run
    mask = np.zeros(len(df), dtype=bool)
    remaining = 0
    previous = None
    for i, machine in enumerate(df["machine_id"].to_numpy()):
        if machine != previous:
            remaining, previous = 0, machine
        if remaining == 0 and rng.random() < start_p:
            remaining = int(rng.geometric(1 / run))
        if remaining > 0:
            mask[i] = True
            remaining -= 1
    df.loc[mask, column] = np.nan


def record(rng: np.random.Generator, df: pd.DataFrame, incoming: bool) -> pd.DataFrame:
    """Turn the true state into what the sensors and the maintenance system recorded."""
    df = df.copy()
    n = len(df)
    if incoming:  # firmware 4.3.0 changed the sensor calibration
        df["air_temperature_k"] += 2.5
        df["process_temperature_k"] += 2.5
        df["vibration_mm_s"] *= 1.2
    tickets = np.where(df["failure"] == 1, rng.random(n) < 0.98, rng.random(n) < 0.004)
    df["maintenance_ticket_opened"] = tickets.astype(int)
    df["firmware_version"] = "4.3.0" if incoming else "4.2.1"

    dropouts(rng, df, "vibration_mm_s", 0.02 if incoming else 0.05, run=4)
    dropouts(rng, df, "torque_nm", 0.02, run=1.5)
    dropouts(rng, df, "air_temperature_k", 0.01, run=1.5)

    df = df.sort_values(["timestamp", "machine_id"], kind="stable").reset_index(drop=True)
    df["timestamp"] = df["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    first = 1 if not incoming else N_MACHINES * N_TRAIN_SHIFTS + 1
    df.insert(0, "reading_id", [f"R{first + i:06d}" for i in range(n)])
    df = df.round({"air_temperature_k": 1, "process_temperature_k": 1, "torque_nm": 1,
                   "vibration_mm_s": 2})
    df["rotational_speed_rpm"] = df["rotational_speed_rpm"].round().astype(int)
    df["tool_wear_min"] = df["tool_wear_min"].round().astype(int)
    columns = ["reading_id", "machine_id", "timestamp", "machine_type", "air_temperature_k",
               "process_temperature_k", "rotational_speed_rpm", "torque_nm", "tool_wear_min",
               "vibration_mm_s", "firmware_version", "maintenance_ticket_opened", "failure"]
    return df[columns]


def write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, lineterminator="\n")


def main() -> None:
    rng = np.random.default_rng(SEED)
    state = simulate(rng)
    train = record(rng, state[state["shift"] < N_TRAIN_SHIFTS], incoming=False)
    incoming = record(rng, state[state["shift"] >= N_TRAIN_SHIFTS], incoming=True)
    write(train, HERE / "data" / "sensor_readings.csv")
    write(incoming, HERE / "incoming" / "sensor_readings_2026_04.csv")


if __name__ == "__main__":
    main()
