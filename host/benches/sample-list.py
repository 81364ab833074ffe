"""Writes a recipient list with the columns of `isomail init`'s sample campaign.

    python3 host/benches/sample-list.py PATH N

Used by host/benches/check-383k.sh and tests/smtp/bench-send.sh. Addresses spread over 97
domains; every third recipient is on the pro plan.
"""
import sys

path, n = sys.argv[1], int(sys.argv[2])
with open(path, "w") as f:
    f.write("email,name,plan,account_id\n")
    for i in range(n):
        plan = "pro" if i % 3 == 0 else "basic"
        f.write(f"user{i}@example{i % 97}.com,Person {i},{plan},AC-{i:08d}\n")
