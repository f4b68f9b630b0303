"""The dtbench Grafana dashboard, built with grafana-foundation-sdk (pinned by scripts/env.sh).

Its panels read what dtbench-export pushes (dtbench_* gauges, grouped by job/system/benchmark)
and what efa_exporter writes for node_exporter (dtbench_efa_*). Every panel's legend names
the labels it shows ({{label}}); `dtbench-dashboards check` holds each query to returning
series that carry them. Straggler scores join once the records carry them (diagnosis issue).
"""
from grafana_foundation_sdk.builders import bargauge, dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh, VariableSort

UID = "dtbench-nightly"
TITLE = "dtbench: nightly benchmarks"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
# The template variables, in the order Grafana resolves them (each may use the ones before).
VARIABLES = [
    ("system", "label_values(dtbench_run_ok, system)"),
    ("benchmark", 'label_values(dtbench_run_ok{system=~"$system"}, benchmark)'),
    ("op", 'label_values(dtbench_busbw_gbytes_per_second{system=~"$system"}, op)'),
]
SEL = 'system=~"$system", benchmark=~"$benchmark"'

# (row title, [(panel kind, title, unit, description, [(expr, legend)])])
ROWS = [
    ("Training", [
        ("timeseries", "Tokens per second", "short", "the whole job's tokens/s, per record key",
         [(f"dtbench_tokens_per_second{{{SEL}}}", "{{benchmark}} {{model}} x{{world_size}}")]),
        ("timeseries", "MFU", "percentunit", "model FLOPs utilisation (FLOPs pinned in docs/ARCHITECTURE.md)",
         [(f"dtbench_mfu{{{SEL}}}", "{{benchmark}} {{model}} x{{world_size}}")]),
        ("timeseries", "Step time (median, p90)", "s", "over the timed steps of the run",
         [(f'dtbench_step_time_seconds{{{SEL}, stat=~"median|p90"}}', "{{benchmark}} {{model}} {{stat}}")]),
        ("timeseries", "Step time per rank (median)", "s", "a slow rank stands out above the others",
         [(f'dtbench_rank_step_time_seconds{{{SEL}, stat="median"}}', "{{benchmark}} rank {{rank}} {{host}}")]),
        ("bargauge", "Step time per rank, last run", "s", "each rank's median step time in the newest run",
         [(f'max by (benchmark, rank, host) (dtbench_rank_step_time_seconds{{{SEL}, stat="median"}})',
           "{{benchmark}} rank {{rank}} {{host}}")]),
        ("timeseries", "Peak memory per rank", "bytes", "the largest per-rank peak",
         [(f"dtbench_peak_memory_bytes{{{SEL}}}", "{{benchmark}} {{model}}")]),
    ]),
    ("Collectives", [
        ("timeseries", "Bus bandwidth by op and size", "Bps", "out-of-place busbw (nccl-tests' definition)",
         [('dtbench_busbw_gbytes_per_second{system=~"$system", op=~"$op"} * 1e9', "{{op}} {{bytes}} B")]),
        ("bargauge", "Bus bandwidth, largest message", "Bps", "per op, at the largest size measured",
         [('max by (op) (dtbench_busbw_gbytes_per_second{system=~"$system", op=~"$op"} * 1e9)', "{{op}}")]),
    ]),
    ("Nightly gate", [
        ("stat", "Regressions", "short", "metrics the nightly compare judged regressions, per benchmark",
         [('sum by (benchmark) (dtbench_compare_regression{system=~"$system"})', "{{benchmark}}")]),
        ("table", "Compare verdicts", "short", "now / baseline, > 1 worse, with the verdict",
         [(f"dtbench_compare_ratio{{{SEL}}}", "{{benchmark}} {{metric}} {{verdict}}")]),
        ("stat", "Runs ok", "short", "1 when the newest run of the benchmark succeeded",
         [(f"min by (benchmark) (dtbench_run_ok{{{SEL}}})", "{{benchmark}}")]),
    ]),
    ("EFA", [
        ("timeseries", "EFA traffic", "Bps", "tx and rx bytes per second per node and device (efa_exporter)",
         [('sum by (instance, device, hw_counter) (rate(dtbench_efa_hw_total{hw_counter=~"tx_bytes|rx_bytes"}'
           '[$__rate_interval]))', "{{instance}} {{device}} {{hw_counter}}")]),
        ("timeseries", "EFA RDMA writes and reads", "Bps", "RDMA bytes per second per node and device",
         [('sum by (instance, device, hw_counter) (rate(dtbench_efa_hw_total{hw_counter=~"rdma_(read|write)_bytes"}'
           '[$__rate_interval]))', "{{instance}} {{device}} {{hw_counter}}")]),
        ("timeseries", "EFA retransmits", "pps", "retransmitted packets per second: a sick link or a congested fabric",
         [('sum by (instance, device) (rate(dtbench_efa_hw_total{hw_counter="retrans_pkts"}[$__rate_interval]))',
           "{{instance}} {{device}}")]),
        ("stat", "EFA devices per node", "short", "p5.48xlarge: 32, p4d.24xlarge: 4",
         [("dtbench_efa_devices", "{{instance}}")]),
    ]),
]
KINDS = {"timeseries": timeseries.Panel, "bargauge": bargauge.Panel, "stat": stat.Panel, "table": table.Panel}


def build():
    """The dashboard as grafana-foundation-sdk's model."""
    d = (dashboard.Dashboard(TITLE).uid(UID).tags(["dtbench"]).time("now-30d", "now").refresh("5m")
         .editable().description("dtbench's nightly figures: training throughput, MFU, per-rank step time, "
                                 "collective bandwidth, the nightly gate's verdicts and EFA counters"))
    d = d.with_variable(dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
    for name, query in VARIABLES:
        d = d.with_variable(dashboard.QueryVariable(name).label(name).query(query).datasource(DATASOURCE)
                            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED).sort(VariableSort.ALPHABETICAL_ASC)
                            .multi(True).include_all(True))
    ids = iter(range(1, 1000))  # unique panel ids, stable from build to build
    for row_title, panels in ROWS:
        d = d.with_row(dashboard.Row(row_title).id(next(ids)))
        for kind, title, unit, description, targets in panels:
            p = KINDS[kind]().id(next(ids)).title(title).unit(unit).description(description).datasource(DATASOURCE).height(8).span(12)
            for ref, (expr, legend) in zip("ABCDEFGH", targets):
                p = p.with_target(prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref))
            d = d.with_panel(p)
    return d.build()
