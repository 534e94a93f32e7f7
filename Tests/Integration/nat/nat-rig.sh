#!/usr/bin/env bash
# Copied from the team's shared/nat/nat-rig.sh (Tests/Integration/test_nat.py builds its rig with it).
# nat-rig.sh — two hosts behind two Linux NATs, an "internet" and a STUN server, all in network
# namespaces on one machine (run as root). Nothing leaves the machine: every address is from
# 198.18.0.0/15 (RFC 2544) and exists only inside these namespaces.
#
#   nrA_h 198.18.10.2 ── nrA_nat [lan 198.18.10.1 | wan 198.19.0.11] ──┐
#                                                                       ├─ br0 in nr_inet (198.19.0.0/24, "internet")
#   nrB_h 198.18.20.2 ── nrB_nat [lan 198.18.20.1 | wan 198.19.0.12] ──┤
#                          nr_stun: 198.19.0.3 and 198.19.0.4 ──────────┘  coturn (STUN only, RFC 5389 + RFC 5780)
#
# NAT kinds (per NAT box):
#   cone       MASQUERADE: keeps the source port when it can -> endpoint-independent mapping;
#              filtering is conntrack's (address- and port-dependent), i.e. a "port-restricted cone"
#   symmetric  MASQUERADE --random-fully: a new random public port for every new 5-tuple
#              -> endpoint-dependent mapping
#   Both boxes forward only ESTABLISHED/RELATED from wan to lan, and drop NEW packets that arrive for
#   the box itself on wan (a peer's early probe would otherwise create a conntrack entry that makes
#   MASQUERADE pick another port for the later outbound packet).
#
# usage: nat-rig.sh up KIND_A KIND_B     build the rig (KIND: cone | symmetric)
#        nat-rig.sh test                 NAT discovery (turnutils_natdiscovery), UDP hole punch (punch.py),
#                                        SRT rendezvous through the punched mapping (srt-file-transmit, 8 MiB),
#                                        TCP simultaneous-open punch (tcp_punch.py, 8 MiB each way)
#        nat-rig.sh down                 remove everything this script made
#        nat-rig.sh demo                 up/test/down for cone+cone, symmetric+symmetric, cone+symmetric
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RIG=${NAT_WORK:-/run/s2s-nat}; X=$RIG/x
NS="nrA_h nrA_nat nrB_h nrB_nat nr_inet nr_stun"
PUNCH="python3 $HERE/punch.py"

need() { local miss=(); for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || miss+=("$p"); done
  if ((${#miss[@]})); then apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${miss[@]}"; fi; }

down() {
  for n in $NS; do
    for p in $(ip netns pids $n 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  done
  sleep 0.2
  for n in $NS; do ip netns del $n 2>/dev/null || true; done
}

nat_box() { # nat_box NS LAN_IP WAN_IP KIND
  local n=$1 lan=$2 wan=$3 kind=$4 rnd=""
  [ "$kind" = symmetric ] && rnd="--random-fully"
  ip -n $n addr add $lan/24 dev lan; ip -n $n link set lan up
  ip -n $n addr add $wan/24 dev wan; ip -n $n link set wan up
  ip netns exec $n sysctl -qw net.ipv4.ip_forward=1
  ip netns exec $n iptables -t nat -A POSTROUTING -o wan -j MASQUERADE $rnd
  ip netns exec $n iptables -A FORWARD -i lan -o wan -j ACCEPT
  ip netns exec $n iptables -A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  ip netns exec $n iptables -A FORWARD -i wan -j DROP
  ip netns exec $n iptables -A INPUT -i wan -m conntrack --ctstate NEW -j DROP
}

up() {
  local ka=${1:-cone} kb=${2:-cone}
  need iproute2 iptables coturn srt-tools python3
  down
  mkdir -p $RIG $X
  for n in $NS; do ip netns add $n; ip -n $n link set lo up; done
  ip -n nr_inet link add br0 type bridge; ip -n nr_inet link set br0 up
  # hosts <-> NAT lan side
  ip link add eth0 netns nrA_h type veth peer name lan netns nrA_nat
  ip link add eth0 netns nrB_h type veth peer name lan netns nrB_nat
  # NAT wan side, STUN server <-> internet bridge
  ip link add wan netns nrA_nat type veth peer name pA netns nr_inet
  ip link add wan netns nrB_nat type veth peer name pB netns nr_inet
  ip link add eth0 netns nr_stun type veth peer name pS netns nr_inet
  for p in pA pB pS; do ip -n nr_inet link set $p master br0; ip -n nr_inet link set $p up; done
  ip -n nrA_h addr add 198.18.10.2/24 dev eth0; ip -n nrA_h link set eth0 up
  ip -n nrA_h route add default via 198.18.10.1
  ip -n nrB_h addr add 198.18.20.2/24 dev eth0; ip -n nrB_h link set eth0 up
  ip -n nrB_h route add default via 198.18.20.1
  nat_box nrA_nat 198.18.10.1 198.19.0.11 "$ka"
  nat_box nrB_nat 198.18.20.1 198.19.0.12 "$kb"
  ip -n nr_stun addr add 198.19.0.3/24 dev eth0; ip -n nr_stun addr add 198.19.0.4/24 dev eth0
  ip -n nr_stun link set eth0 up
  ip netns exec nr_stun turnserver -n --stun-only --no-cli --no-tls --no-dtls \
     --listening-ip=198.19.0.3 --listening-ip=198.19.0.4 --listening-port=3478 \
     --log-file=stdout --simple-log --pidfile=$RIG/turnserver.pid >$RIG/turnserver.log 2>&1 &
  echo "$ka $kb" > $RIG/kinds
  for _ in $(seq 50); do ip netns exec nr_stun ss -lun | grep -q 198.19.0.4:3478 && break; sleep 0.1; done
  echo "rig up: NAT A = $ka, NAT B = $kb"
}

test_rig() {
  local kinds; kinds=$(cat $RIG/kinds)
  echo "== NAT kinds: $kinds"
  echo "-- RFC 5780 discovery from hA (turnutils_natdiscovery -m -f):"
  ip netns exec nrA_h timeout 20 turnutils_natdiscovery -m -f 198.19.0.3 2>&1 | grep -E -i "mapping|filtering|behavi" | sed 's/^/   /' || true
  echo "-- RFC 5780 discovery from hB:"
  ip netns exec nrB_h timeout 20 turnutils_natdiscovery -m -f 198.19.0.3 2>&1 | grep -E -i "mapping|filtering|behavi" | sed 's/^/   /' || true
  echo "-- UDP hole punch (STUN, address exchange through a file, clock slot, 20 ms probes for 5 s):"
  rm -f $X/*.addr
  ip netns exec nrA_h $PUNCH --me A --peer B --port 40000 > $RIG/punchA.json &
  local pa=$!
  ip netns exec nrB_h $PUNCH --me B --peer A --port 40000 > $RIG/punchB.json &
  local pb=$!
  wait $pa $pb || true
  sed 's/^/   /' $RIG/punchA.json $RIG/punchB.json
  echo "-- SRT rendezvous through the NATs (STUN on local port 41000, then libsrt binds 41000 and"
  echo "   calls the peer's mapped address; srt-file-transmit, 8 MiB, conntimeo=1000 -> 10 s rendezvous timeout):"
  # srt-file-transmit's receiver names its output after the sender's streamid (the source file
  # name) in the directory of the path it is given: keep source and output in separate directories
  rm -f $X/*.addr; rm -rf $RIG/rx; mkdir -p $RIG/src $RIG/rx
  [ -f $RIG/src/tx.bin ] || head -c $((8<<20)) /dev/urandom > $RIG/src/tx.bin
  ip netns exec nrA_h $PUNCH --me A --peer B --port 41000 --stun-only >/dev/null
  ip netns exec nrB_h $PUNCH --me B --peer A --port 41000 --stun-only >/dev/null
  local PA PB t0 rc=0
  PA=$(cat $X/A.addr); PB=$(cat $X/B.addr)
  echo "   A mapped $PA, B mapped $PB"
  t0=$(date +%s.%N)
  ip netns exec nrB_h timeout 25 srt-file-transmit -q \
     "srt://${PA%:*}:${PA#*:}?mode=rendezvous&port=41000&conntimeo=1000" file://$RIG/rx/ >$RIG/srt_rx.log 2>&1 &
  local rb=$!
  ip netns exec nrA_h timeout 25 srt-file-transmit -q file://$RIG/src/tx.bin \
     "srt://${PB%:*}:${PB#*:}?mode=rendezvous&port=41000&conntimeo=1000" >$RIG/srt_tx.log 2>&1 || rc=$?
  wait $rb || true
  if cmp -s $RIG/src/tx.bin $RIG/rx/tx.bin; then
    echo "   SRT rendezvous: OK, 8 MiB identical, $(awk "BEGIN{printf \"%.2f\", $(date +%s.%N) - $t0}") s (sender rc=$rc)"
  else
    echo "   SRT rendezvous: FAILED (sender rc=$rc, received $(stat -c %s $RIG/rx/tx.bin 2>/dev/null || echo 0) bytes)"
    tail -2 $RIG/srt_tx.log | sed 's/^/     tx: /'
  fi
  echo "-- TCP hole punch by simultaneous open (STUN over TCP from local port 42000, connect() at the"
  echo "   same clock slot from 42000 to the peer's mapped address, then 8 MiB each way):"
  rm -f $X/*.tcpaddr
  ip netns exec nrA_h timeout 40 python3 $HERE/tcp_punch.py --me A --peer B --port 42000 --window 6 > $RIG/tcpA.json 2>&1 &
  local ta=$!
  ip netns exec nrB_h timeout 40 python3 $HERE/tcp_punch.py --me B --peer A --port 42000 --window 6 > $RIG/tcpB.json 2>&1 &
  local tb=$!
  wait $ta $tb || true
  sed 's/^/   /' $RIG/tcpA.json $RIG/tcpB.json
  echo "-- conntrack on NAT A (udp):"
  ip netns exec nrA_nat conntrack -L -p udp 2>/dev/null | sed 's/^/   /' | head -8 || true
}

case "${1:-demo}" in
  up) up "${2:-cone}" "${3:-cone}" ;;
  down) down; echo "rig down" ;;
  test) test_rig ;;
  demo)
    trap down EXIT
    for kinds in "cone cone" "symmetric symmetric" "cone symmetric"; do
      up $kinds; test_rig; down; echo
    done ;;
  *) echo "usage: $0 up KIND_A KIND_B | test | down | demo"; exit 2 ;;
esac
