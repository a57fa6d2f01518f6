#!/usr/bin/python3
# Records the next fire times of cron expressions from Python's croniter
# (Debian: apt-get install python3-croniter python3-tz), the reference
# internal/cron is tested against. Writes croniter.json next to this script.
#
# Usage: /usr/bin/python3 internal/cron/testdata/record.py
import datetime, json, os

import croniter
import pytz

CASES = [
    ("*/15 * * * *", "UTC", "2026-03-01T10:07:30"),
    ("0 * * * *", "UTC", "2026-03-01T10:00:00"),
    ("@daily", "UTC", "2026-12-31T23:59:00"),
    ("@weekly", "UTC", "2026-01-01T00:00:00"),
    ("@monthly", "Europe/Paris", "2026-01-31T12:00:00"),
    ("@yearly", "UTC", "2026-06-01T00:00:00"),
    ("30 2 * * *", "Europe/Berlin", "2026-03-27T00:00:00"),   # 02:30 is skipped on 29 March
    ("30 2 * * *", "Europe/Berlin", "2026-10-24T00:00:00"),   # 02:30 occurs twice on 25 October
    ("0 9 * * MON-FRI", "America/New_York", "2026-03-06T12:00:00"),
    ("0 9 1,15 * MON", "UTC", "2026-01-01T00:00:00"),        # day-of-month OR day-of-week
    ("0 0 29 2 *", "UTC", "2026-01-01T00:00:00"),            # the next 29 February
    ("5-10/2 8-18/5 * JAN,JUL SUN", "Asia/Kolkata", "2026-01-01T00:00:00"),
    ("0 0 * * 7", "UTC", "2026-05-01T00:00:00"),             # 7 is Sunday
    ("59 23 31 12 *", "Australia/Sydney", "2026-12-31T23:59:00"),
    ("*/7 */5 */3 * *", "UTC", "2026-02-27T22:50:00"),
    ("15 1 * * *", "America/Sao_Paulo", "2026-02-10T00:00:00"),
]

out = []
for expr, tz, start in CASES:
    zone = pytz.timezone(tz)
    base = zone.localize(datetime.datetime.fromisoformat(start))
    it = croniter.croniter(expr, base)
    nexts = [it.get_next(datetime.datetime).isoformat() for _ in range(6)]
    out.append({"expr": expr, "tz": tz, "start": base.isoformat(), "next": nexts})

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "croniter.json")
with open(path, "w") as f:
    json.dump({"tool": "croniter " + croniter.__version__ if hasattr(croniter, "__version__") else "croniter (Debian python3-croniter 1.3.5)", "cases": out}, f, indent=1)
    f.write("\n")
print("wrote", path)
