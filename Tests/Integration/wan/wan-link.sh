#!/usr/bin/env bash
# Copied from the team's shared/wan/wan-link.sh (with nfq_delay.c), for the WAN tests and
# `make bench-wan`; WAN_WORK and WAN_PREFIX (the namespaces' names) are the only additions.
#
# wan-link.sh: an emulated long, lossy link between two network namespaces on one machine, for
# tests and benchmarks of transfers across the world. Root only; nothing leaves the machine.
#
#   wanA (198.18.0.1) --veth-- wanR (router: delay, loss, rate) --veth-- wanB (198.18.1.1)
#
# The kernels here have no sch_netem, so delay and loss come from nfq_delay.c (beside this
# script): iptables sends every forwarded packet to NFQUEUE 0, nfq_delay holds it DELAY_MS and
# drops LOSS_PPM per million at random, in each direction; a tbf qdisc on both router egresses
# sets the rate. Where sch_netem exists, netem does the same job.
#
# usage: wan-link.sh up [DELAY_MS_ONE_WAY=25] [LOSS_PPM_EACH_WAY=5000] [RATE=1gbit]
#        wan-link.sh down
#        wan-link.sh status
# Then run the two ends with `ip netns exec wanA ...` and `ip netns exec wanB ...` (a unix-socket
# D-Bus bus works across namespaces). Measured here with iperf3, 25 ms / 0.5 % / 1 Gbit/s:
# cubic 0.6 MB/s; bbr 31 MB/s with default buffers, 66-106 MB/s with 32 MiB buffers; bbr with 4
# streams 78-104 MB/s even at 2 % loss; scp and rsync over ssh (bbr) 16-18 MB/s.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# WAN_PREFIX names the three namespaces (PREFIXA, PREFIXR, PREFIXB), so that the test suite and a
# benchmark can each have a link of their own at the same time.
P=${WAN_PREFIX:-wan}
A=${P}A; R=${P}R; B=${P}B
WORK=${WAN_WORK:-/run/s2s-wan}

down() {
  for n in $A $R $B; do
    for p in $(ip netns pids $n 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  done
  sleep 0.2
  for n in $A $R $B; do ip netns del $n 2>/dev/null || true; done
}

up() {
  local delay=${1:-25} loss=${2:-5000} rate=${3:-1gbit}
  for p in iproute2 iptables gcc libc6-dev libnetfilter-queue-dev; do
    dpkg -s $p >/dev/null 2>&1 || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q iproute2 iptables gcc libc6-dev libnetfilter-queue-dev; break; }
  done
  down; mkdir -p "$WORK"
  for n in $A $R $B; do ip netns add $n; ip -n $n link set lo up; done
  ip link add vA netns $A type veth peer name rA netns $R
  ip link add vB netns $B type veth peer name rB netns $R
  ip -n $A addr add 198.18.0.1/24 dev vA;   ip -n $A link set vA up
  ip -n $R addr add 198.18.0.254/24 dev rA; ip -n $R link set rA up
  ip -n $R addr add 198.18.1.254/24 dev rB; ip -n $R link set rB up
  ip -n $B addr add 198.18.1.1/24 dev vB;   ip -n $B link set vB up
  ip -n $A route add 198.18.1.0/24 via 198.18.0.254
  ip -n $B route add 198.18.0.0/24 via 198.18.1.254
  ip netns exec $R sysctl -qw net.ipv4.ip_forward=1
  if ip netns exec $R tc qdisc add dev rA root netem delay ${delay}ms 2>/dev/null; then
    ip netns exec $R tc qdisc del dev rA root
    local pct; pct=$(python3 -c "print($loss/10000)")
    for d in rA rB; do ip netns exec $R tc qdisc add dev $d root netem delay ${delay}ms loss ${pct}% rate $rate limit 100000; done
  else
    gcc -O2 -o "$WORK/nfq_delay" "$HERE/nfq_delay.c" -lnetfilter_queue
    ip netns exec $R iptables -A FORWARD -j NFQUEUE --queue-num 0
    ip netns exec $R "$WORK/nfq_delay" 0 $((delay * 1000)) "$loss" 2>"$WORK/nfq_delay.log" &
    for d in rA rB; do ip netns exec $R tc qdisc add dev $d root tbf rate $rate burst 256kb limit 1500kb; done
  fi
  sleep 0.3
  ip netns exec $A ping -q -c 3 -i 0.2 198.18.1.1 | tail -1
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  status) ip netns list | grep -E "^($A|$R|$B)\b" || echo "no link" ;;
  *) echo "usage: $0 up [DELAY_MS] [LOSS_PPM] [RATE] | down | status" >&2; exit 64 ;;
esac
