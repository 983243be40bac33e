# The example notebook (docs/notebook.ipynb) as a script: the same code, cell by cell.

# Canary in a notebook
import canary

project = canary.Project("examples/retail")
project

# What the project declares
{kpi.id: kpi.name for kpi in list(project.kpis.values())[:6]}

[d.name for d in project.dimensions("revenue")]

# Compute
result = project.compute(
    ["revenue", "completed_orders", "return_rate"],
    grain="month",
    by="channel",
    start="2025-01",
    end="2026-01",
)
result

df = result.to_pandas()
df.head()

import duckdb

duckdb.sql("select channel, sum(revenue) as revenue from result group by channel order by revenue desc").df()

# Plot
fig = result.plot("revenue")

# The plan, and errors
print(project.explain("revenue", grain="month", by="channel").sql)

try:
    project.compute("revnue")
except canary.QueryError as e:
    print(e)
