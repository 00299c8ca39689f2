# bench/pve-configs.awk: N generated Proxmox container configs, VMIDs 100..,
# in the directory OUT, for bench/run.sh's sync figures; prints "GPU STALE"
# (how many have GPU lines, how many of those sync must rewrite).
#
#   awk -v n=N -v out=OUT -v t=TEMPLATES [-v all=1] [-v want=WANT] -f pve-configs.awk
#
# TEMPLATES holds the GPU lines `lxgpu attach` wrote on the bench host: raw
# (raw style), dev (dev style + --guard), stale508 and stale511 (raw with
# nvidia-uvm's major 508 or 511 instead of today's, as after a kernel update
# that moved it), synced508 and synced511 (what `lxgpu sync` makes of the
# stale ones: the lines it writes, where it writes them).
#
# Seeded, so every run writes the same files: write_pct_config's layout,
# 0-3 description '#' lines (30%), sorted keys (arch, cores, features,
# hostname, memory, net0, onboot, ostype, parent, rootfs, swap, tags,
# unprivileged; 80% unprivileged), sometimes lxc.apparmor.profile and
# lxc.prlimit lines, and a [snapshot] section (15% one, 5% two).
#   all=0 (default): every 10th config has GPU lines (10% of all):
#     1/4 dev style + --guard hook (devN lines: in line),
#     2/4 raw style (LXGPU_* records, cgroup rules, mount entries: in line),
#     1/4 stale (508 or 511: sync rewrites them: 2.5% of all configs).
#   all=1: every config has stale GPU lines (508 or 511, alternating): the
#     state of a host whose GPU containers all use raw lines after a kernel
#     update moved nvidia-uvm's major.
# Half of the GPU configs' snapshots carry the same GPU lines; sync edits the
# main section only. want=WANT also writes, in the same pass, each config as
# sync must leave it into the directory WANT: the stale main sections as
# synced508/synced511, everything else byte for byte (one pass: two runs of
# an awk need not draw the same numbers from one seed).
function slurp(f,   l, s) { s = ""; while ((getline l < f) > 0) s = s l "\n"; close(f); return s }
function pick(a, k) { return a[int(rand() * k) + 1] }
function keys(id, parent, snaptime,   s) {
	s = "arch: amd64\ncores: " cores "\n" feat "hostname: " host "\nmemory: " mem "\n"
	s = s "net0: name=eth0,bridge=vmbr0,firewall=1,hwaddr=" hw ",ip=dhcp,type=veth\n"
	s = s onboot "ostype: " os "\n"
	if (parent != "") s = s "parent: " parent "\n"
	s = s "rootfs: local-lvm:vm-" id "-disk-0,size=" disk "G\n"
	if (snaptime != "") s = s "snaptime: " snaptime "\n"
	s = s "swap: 512\n" tags unpriv lxcl
	return s
}
BEGIN {
	srand(20250101)
	raw = slurp(t "/raw"); dev = slurp(t "/dev")
	s508 = slurp(t "/stale508"); s511 = slurp(t "/stale511")
	synced[s508] = slurp(t "/synced508"); synced[s511] = slurp(t "/synced511")
	split("debian ubuntu alpine archlinux fedora centos", oses, " ")
	split("web db cache ci-runner jellyfin plex nextcloud gitlab grafana minio", roles, " ")
	split("CUDA 12 worker%3A do not stop|Managed by Ansible|owner%3A ops team|" \
	      "Jellyfin with NVENC|ticket INFRA-1234|backup nightly 02%3A00", descs, "|")
	split("before_upgrade|daily|pre_gpu|weekly_2024_11|clean", snaps, "|")
	gpus = stale = 0
	for (i = 0; i < n; i++) {
		id = 100 + i
		f = out "/" id ".conf"
		gpu = ""
		if (all) {
			gpu = (i % 2 == 0) ? s508 : s511; gpus++; stale++
		} else if (i % 10 == 0) {
			k = int(i / 10); gpus++
			if (k % 4 == 0) gpu = dev
			else if (k % 4 == 1) { gpu = (k % 8 == 1) ? s508 : s511; stale++ }
			else gpu = raw
		}
		desc = ""
		if (rand() < 0.3)
			for (d = int(rand() * 3) + 1; d > 0; d--) desc = desc "#" pick(descs, 6) "\n"
		cores = 2 ^ int(rand() * 5); mem = 512 * 2 ^ int(rand() * 7)
		disk = 4 * 2 ^ int(rand() * 6)
		feat = rand() < 0.5 ? "features: nesting=1\n" : ""
		host = pick(roles, 10) "-" id
		hw = sprintf("BC:24:11:%02X:%02X:%02X", int(rand() * 256), int(rand() * 256), int(rand() * 256))
		onboot = rand() < 0.6 ? "onboot: 1\n" : ""
		os = pick(oses, 6)
		tags = rand() < 0.3 ? "tags: prod;" pick(roles, 10) "\n" : ""
		unpriv = rand() < 0.8 ? "unprivileged: 1\n" : ""
		raw_lxc = ""
		if (rand() < 0.15) raw_lxc = raw_lxc "lxc.apparmor.profile: unconfined\n"
		if (rand() < 0.10) raw_lxc = raw_lxc "lxc.prlimit.memlock: unlimited\n"
		r = rand(); nsnap = r < 0.15 ? 1 : r < 0.20 ? 2 : 0
		s1 = pick(snaps, 5); s2 = s1 "_2"
		lxcl = raw_lxc
		head = desc keys(id, nsnap == 0 ? "" : nsnap == 1 ? s1 : s2, "")
		snapgpu = (gpu != "" && rand() < 0.5) ? gpu : ""
		snaps_text = ""
		if (nsnap >= 1)
			snaps_text = snaps_text "\n[" s1 "]\n" desc keys(id, "", 1718000000 + i) snapgpu
		if (nsnap == 2)
			snaps_text = snaps_text "\n[" s2 "]\n" keys(id, s1, 1719000000 + i) snapgpu
		printf "%s", head gpu snaps_text > f
		close(f)
		if (want != "") {
			w = want "/" id ".conf"
			printf "%s", head ((gpu in synced) ? synced[gpu] : gpu) snaps_text > w
			close(w)
		}
	}
	print gpus, stale
}
