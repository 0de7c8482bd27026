"""pouch.cgroups.stats (file parsers, v1/v2 samples) and pouch.cli.stats (docker's figures)."""

from __future__ import annotations

from pouch.cgroups.stats import (
    BlkioEntry,
    CpuUsage,
    MemoryUsage,
    NetworkUsage,
    PidsUsage,
    Throttling,
    parse_blkio_v1,
    parse_net_dev,
    parse_proc_stat_cpu,
    stats_v1,
    stats_v2,
)
from pouch.cli.stats import cpu_percent, memory_usage, render, row_fields

NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:    1500      12    1    2    0     0          0         0      700       7    3    4    0     0       0          0
"""


def test_net_dev_leaves_out_loopback():
    assert parse_net_dev(NET_DEV) == {"eth0": NetworkUsage(rx_bytes=1500, rx_packets=12, rx_errors=1, rx_dropped=2,
                                                           tx_bytes=700, tx_packets=7, tx_errors=3, tx_dropped=4)}


def test_proc_stat_system_time_in_nanoseconds():
    text = "cpu  100 0 50 800 10 0 40 0 0 0\ncpu0 50 0 25 400 5 0 20 0 0 0\n"
    assert parse_proc_stat_cpu(text, ticks=100) == 1000 * 10**9 // 100


def test_v1_sample():
    files = {
        "cpuacct.usage": "5000000\n", "cpuacct.usage_percpu": "3000000 2000000 \n",
        "cpuacct.stat": "user 3\nsystem 1\n", "cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 99\n",
        "memory.usage_in_bytes": "4096000\n", "memory.max_usage_in_bytes": "5000000\n",
        "memory.limit_in_bytes": "33554432\n", "memory.stat": "cache 4096\ntotal_inactive_file 96000\n",
        "pids.current": "3\n", "pids.max": "max\n",
        "blkio.throttle.io_service_bytes_recursive": "254:0 Read 4096\n254:0 Write 8192\n254:0 Total 12288\nTotal 12288\n",
    }
    s = stats_v1(files, ticks=100)
    assert s.cpu == CpuUsage(total=5000000, kernel_mode=10**7, user_mode=3 * 10**7, per_cpu=(3000000, 2000000))
    assert s.throttling == Throttling(periods=10, throttled_periods=2, throttled_time=99)
    assert s.memory == MemoryUsage(usage=4096000, limit=33554432, stats={"cache": 4096, "total_inactive_file": 96000},
                                   max_usage=5000000, failcnt=0)
    assert s.pids == PidsUsage(current=3, limit=None)
    assert s.blkio.service_bytes == (BlkioEntry(254, 0, "Read", 4096), BlkioEntry(254, 0, "Write", 8192),
                                     BlkioEntry(254, 0, "Total", 12288))
    assert s.blkio.serviced == ()


def test_v2_sample():
    files = {"cpu.stat": "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\nnr_periods 4\nnr_throttled 1\n"
                         "throttled_usec 7\n",
             "memory.current": "8192\n", "memory.max": "max\n", "memory.stat": "inactive_file 4096\n",
             "pids.current": "2\n", "pids.max": "10\n", "io.stat": "254:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0\n"}
    s = stats_v2(files)
    assert s.cpu == CpuUsage(total=5_000_000, kernel_mode=2_000_000, user_mode=3_000_000, per_cpu=())
    assert s.throttling == Throttling(periods=4, throttled_periods=1, throttled_time=7000)
    assert s.memory == MemoryUsage(usage=8192, limit=0, stats={"inactive_file": 4096})  # no max_usage/failcnt on v2
    assert s.pids == PidsUsage(current=2, limit=10)
    assert s.blkio.service_bytes == (BlkioEntry(254, 0, "read", 100), BlkioEntry(254, 0, "write", 200))
    assert s.blkio.serviced == (BlkioEntry(254, 0, "read", 1), BlkioEntry(254, 0, "write", 2))


def test_memory_limit_capped_at_the_hosts_memory():
    assert MemoryUsage(usage=1, limit=0).capped(1000).limit == 1000  # unlimited
    assert MemoryUsage(usage=1, limit=5000).capped(1000).limit == 1000
    assert MemoryUsage(usage=1, limit=500).capped(1000).limit == 500
    assert MemoryUsage(usage=1, limit=500).capped(0).limit == 500  # the host's unknown


def test_blkio_skips_malformed_lines():
    assert parse_blkio_v1("garbage\nTotal 0\n8:0 Read x\n") == ()


SAMPLE = {
    "cpu_stats": {"cpu_usage": {"total_usage": 300}, "system_cpu_usage": 2000, "online_cpus": 2},
    "precpu_stats": {"cpu_usage": {"total_usage": 100}, "system_cpu_usage": 1000},
    "memory_stats": {"usage": 3 * 1024 * 1024, "limit": 32 * 1024 * 1024, "stats": {"total_inactive_file": 1024 * 1024}},
    "networks": {"eth0": {"rx_bytes": 1050, "tx_bytes": 0}, "eth1": {"rx_bytes": 0, "tx_bytes": 2000}},
    "blkio_stats": {"io_service_bytes_recursive": [{"op": "Read", "value": 4096}, {"op": "Write", "value": 1000000},
                                                   {"op": "Total", "value": 1004096}]},
    "pids_stats": {"current": 4},
}


def test_docker_figures():
    assert cpu_percent(SAMPLE) == 40.0
    assert memory_usage(SAMPLE["memory_stats"]) == 2 * 1024 * 1024
    assert memory_usage({"usage": 100, "stats": {"inactive_file": 40}}) == 60
    assert memory_usage({"usage": 100, "stats": {}}) == 100
    assert row_fields(SAMPLE, "/web", "a" * 64) == {
        "Container": "aaaaaaaaaaaa", "ID": "aaaaaaaaaaaa", "Name": "web", "CPUPerc": "40.00%",
        "MemUsage": "2MiB / 32MiB", "MemPerc": "6.25%", "NetIO": "1.05kB / 2kB", "BlockIO": "4.1kB / 1MB", "PIDs": "4"}


def test_first_sample_and_stopped_container_are_zero():
    assert cpu_percent({}) == 0.0
    fields = row_fields({}, "/x", "b" * 64)
    assert fields["MemUsage"] == "0B / 0B" and fields["MemPerc"] == "0.00%" and fields["PIDs"] == "0"


def test_render_table_and_template():
    rows = [row_fields(SAMPLE, "/web", "a" * 64)]
    out = render(rows, "table")
    assert out.splitlines()[0].split() == ["CONTAINER", "ID", "NAME", "CPU", "%", "MEM", "USAGE", "/", "LIMIT",
                                           "MEM", "%", "NET", "I/O", "BLOCK", "I/O", "PIDS"]
    assert out.splitlines()[1].startswith("aaaaaaaaaaaa   web ")
    assert render(rows, "{{.Name}}: {{.CPUPerc}}") == "web: 40.00%\n"
    assert render(rows, "table {{.Name}}\\t{{.PIDs}}") == "NAME      PIDS\nweb       4\n"
