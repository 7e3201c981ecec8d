# Copyright: (c) 2026, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet benchmark of the playbooks (issue 11): what a converged re-run of ``deploy`` costs.

Run it through ``bash bench/run.sh --fleet`` (or ``make bench``). For each fleet it:

1. starts N podman hosts ``bench-fleet-NN`` (or uses the demo fleet of ``make deploy``), each a
   laptop with the account ``alice`` and a stand-in provider on its own loopback that accepts only
   this run's keys. The hosts share one read-only Codex install (a volume holding the npm package,
   installed once into ``.cache/bench-codex``), so 40 hosts do not hold 40 copies;
2. runs ``bytes4096.codex.deploy`` once to converge the fleet (untimed, it must verify);
3. times ``deploy`` on the converged fleet against a one-task ``ping`` play on the same inventory,
   interleaved and repeated, each ``ansible-playbook`` process from start to exit; every timed
   deploy must report ``changed=0`` and ``failed=0`` on every host, and skip verification;
4. on the 10-host fleet also times ``rotate_key`` (a fresh key each time), ``audit`` and
   ``offboard`` (the fleet is re-deployed, untimed, after each offboard) and records, from one run
   with the ``profile_tasks`` callback, where each playbook's time goes.

Keys are generated per run, live in memory and in the environment of the ansible-playbook
children (``BENCH_API_KEY``), and are checked never to appear in any output.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench import (  # noqa: E402  (sibling script)
    BenchError, fingerprint, machine_info, new_key, run, run_cli, save_report,
)

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, 'results')
WORK_DIR = os.path.join(REPO_ROOT, '.build', 'bench-fleet')
IMAGE = os.environ.get('TEST_IMAGE', 'localhost/bytes4096-codex-test:bookworm')
CODEX_VERSION = os.environ.get('CODEX_TEST_VERSION', '0.169.0')
SHARED_CODEX = os.path.join(REPO_ROOT, '.cache', 'bench-codex')
STANDIN = os.path.join(REPO_ROOT, 'tests', 'standin', 'responses_provider.py')
LABEL = 'bytes4096.codex.bench-fleet=1'
PORT = 18080
PROXY_ENV = ('HTTPS_PROXY=http://127.0.0.1:9\\nHTTP_PROXY=http://127.0.0.1:9\\nALL_PROXY=http://127.0.0.1:9\\n'
             'NO_PROXY=127.0.0.1,localhost\\n')
TARGET_DEPLOY_RATIO = 2.0
RECAP = re.compile(r'^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)'
                   r'\s+failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)')
VERIFY_TASK = re.compile(r'^TASK \[[^]]*: ((?:Verify \| [^]]*)|(?:Run codex as each account[^]]*))\]')
PROFILE = re.compile(r'^(?P<task>.+?) -+ (?P<seconds>\d+\.\d+)s$')


def host_names(count):
    return ['bench-fleet-%02d' % number for number in range(1, count + 1)]


def ensure_shared_codex():
    """One npm install of the pinned Codex on the controller, mounted read-only into every host."""
    binary = os.path.join(SHARED_CODEX, 'lib', 'node_modules', '@openai', 'codex', 'bin', 'codex.js')
    version = run(['node', binary, '--version'], check=False).stdout.strip() if os.path.exists(binary) else ''
    if version != 'codex-cli %s' % CODEX_VERSION:
        sys.stdout.write('installing the Codex CLI %s once into %s (shared by the bench hosts)\n'
                         % (CODEX_VERSION, os.path.relpath(SHARED_CODEX, REPO_ROOT)))
        os.makedirs(SHARED_CODEX, exist_ok=True)
        run(['npm', 'install', '--global', '--prefix', SHARED_CODEX, '--no-audit', '--no-fund', '--loglevel=error',
             '@openai/codex@%s' % CODEX_VERSION])
    return os.path.join(SHARED_CODEX, 'lib', 'node_modules', '@openai')


def container_state(name):
    result = run(['podman', 'container', 'inspect', '--format', '{{.State.Running}}', name], check=False)
    return None if result.returncode != 0 else result.stdout.strip() == 'true'


def bring_up(hosts, accepted):
    """Start the hosts (reusing running ones), the shared install and a stand-in on each loopback."""
    shared = ensure_shared_codex()
    for name in hosts:
        state = container_state(name)
        if state is None:
            run(['podman', 'run', '--detach', '--name', name, '--hostname', name, '--label', LABEL,
                 '--ulimit', 'nofile=1024:20000', '--ulimit', 'nproc=4096:4096',
                 '--volume', '/etc/ssl/certs:/etc/ssl/certs:ro',
                 '--volume', '%s:/usr/local/lib/node_modules/@openai:ro' % shared,
                 IMAGE, 'sleep', 'infinity'])
        elif not state:
            run(['podman', 'start', name])
    accept = ' '.join('--accept %s' % fp for fp in accepted)
    for name in hosts:
        run(['podman', 'cp', STANDIN, '%s:/usr/local/lib/responses_provider.py' % name])
        run(['podman', 'exec', name, 'sh', '-c',
             'ln -sfn ../lib/node_modules/@openai/codex/bin/codex.js /usr/local/bin/codex; '
             '[ -f /run/standin.pid ] && kill "$(cat /run/standin.pid)" 2>/dev/null; sleep 0.2; '
             'nohup python3 /usr/local/lib/responses_provider.py --port %d --log /var/log/standin.jsonl '
             '%s >/var/log/standin.out 2>&1 & echo $! > /run/standin.pid' % (PORT, accept)])
        # Codex's own probes (updates, github.com, chatgpt.com) must stay on the host's loopback:
        # the account's own $CODEX_HOME/.env, which Codex loads itself, points them at a closed port.
        run(['podman', 'exec', '--user', 'alice', name, 'sh', '-c',
             'mkdir -p -m 0700 ~/.codex && printf "%s" > ~/.codex/.env' % PROXY_ENV])
    for name in hosts:
        run(['podman', 'exec', name, 'sh', '-c', 'for i in $(seq 50); do python3 -c "import socket; '
             'socket.create_connection((\'127.0.0.1\', %d), 1)" 2>/dev/null && exit 0; sleep 0.2; done; exit 1'
             % PORT])


def tear_down(hosts):
    present = [name for name in hosts if container_state(name) is not None]
    if present:
        run(['podman', 'rm', '--force', '--time', '0'] + present, check=False)


def write_inventory(hosts, directory):
    """A laptop fleet of ``hosts``: alice on every host, system-wide npm install, no vault."""
    os.makedirs(os.path.join(directory, 'group_vars'), exist_ok=True)
    lines = ['all:', '  hosts:'] + ['    %s:' % name for name in hosts]
    with open(os.path.join(directory, 'inventory.yml'), 'w', encoding='utf-8') as handle:
        handle.write('\n'.join(lines) + '\n')
    group_vars = {
        'ansible_connection': 'containers.podman.podman',
        'ansible_python_interpreter': '/usr/bin/python3',
        'codex_install_method': 'npm',
        'codex_install_users': [],
        'codex_version': CODEX_VERSION,
        'codex_configure_users': [{'name': 'alice'}],
        'codex_configure_base_url': 'http://127.0.0.1:%d/v1' % PORT,
        'codex_configure_api_key': "{{ lookup('ansible.builtin.env', 'BENCH_API_KEY') }}",
        'codex_report_dir': os.path.join(directory, 'reports'),
        'codex_configure_smoke': 'changed',
    }
    with open(os.path.join(directory, 'group_vars', 'all.yml'), 'w', encoding='utf-8') as handle:
        json.dump(group_vars, handle, indent=2)  # JSON is YAML
    with open(os.path.join(directory, 'ping.yml'), 'w', encoding='utf-8') as handle:
        handle.write('- name: Ping the fleet\n  hosts: all\n  gather_facts: false\n  tasks:\n'
                     '    - name: Ping\n      ansible.builtin.ping:\n')
    return os.path.join(directory, 'inventory.yml')


def playbook(inventory, name, key, keys, forks, extra=(), profile=False):
    """Run one playbook as an operator would; return (wall s, output). Raises on a leaked key."""
    target = name if name.endswith('.yml') else 'bytes4096.codex.%s' % name
    command = ['ansible-playbook', '-i', inventory, target, '--forks', str(forks)] + list(extra)
    env = dict(os.environ, BENCH_API_KEY=key, ANSIBLE_RETRY_FILES_ENABLED='False')
    if profile:
        env['ANSIBLE_CALLBACKS_ENABLED'] = 'ansible.posix.profile_tasks'
        env['PROFILE_TASKS_TASK_OUTPUT_LIMIT'] = '12'
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=os.path.dirname(inventory), capture_output=True, text=True,
                            check=False)
    wall = time.perf_counter() - start
    output = result.stdout + result.stderr
    for secret in keys:
        if secret in output:
            raise BenchError('%s: an API key appeared in the output (not shown)' % name)
    if result.returncode != 0:
        raise BenchError('%s failed (rc=%d):\n%s' % (name, result.returncode, output[-4000:]))
    return wall, output


def recap(output):
    return {m.group('host'): {k: int(v) for k, v in m.groupdict().items() if k != 'host'}
            for m in map(RECAP.match, output.splitlines()) if m}


def check_converged(output, hosts):
    problems = []
    stats = recap(output)
    for host in hosts:
        entry = stats.get(host)
        if entry is None:
            problems.append('%s: missing from the play recap' % host)
        elif entry['changed'] or entry['failed'] or entry['unreachable']:
            problems.append('%s: converged deploy reported %r' % (host, entry))
    # nothing changed, so Codex must not have been run to verify (codex_configure_verify: changed)
    verified = sorted(set(m.group(1) for m in map(VERIFY_TASK.match, output.splitlines()) if m))
    if verified:
        problems.append('converged deploy ran verification tasks: %s' % ', '.join(verified))
    return problems


def profile_top(output, count=8):
    tasks = [(m.group('task').strip(), float(m.group('seconds')))
             for m in map(PROFILE.match, output.splitlines()) if m]
    return sorted(tasks, key=lambda item: -item[1])[:count]


def interleaved(inventory, hosts, reps, warmup, key, keys, forks, problems, label):
    """Ping and converged deploy alternately; returns {'ping': [...], 'deploy': [...]}."""
    times = {'ping': [], 'deploy': []}
    ping = os.path.join(os.path.dirname(inventory), 'ping.yml')
    for rep in range(warmup + reps):
        order = ('ping', 'deploy') if rep % 2 == 0 else ('deploy', 'ping')
        for what in order:
            wall, output = playbook(inventory, ping if what == 'ping' else 'deploy', key, keys, forks)
            if what == 'deploy':
                problems.extend('%s rep %d: %s' % (label, rep, p) for p in check_converged(output, hosts))
            if rep >= warmup:
                times[what].append(wall)
            phase = 'rep %d' % (rep - warmup + 1) if rep >= warmup else 'warm-up'
            sys.stdout.write('  %-8s %-9s %-7s %6.2fs\n' % (label, phase, what, wall))
            sys.stdout.flush()
    return times


def median(samples):
    return round(statistics.median(samples), 3) if samples else None


def fleet_run(count, args, report):
    hosts = host_names(count)
    label = '%d hosts' % count
    keys = [new_key() for dummy in range(args.reps + 3)]
    directory = tempfile.mkdtemp(prefix='hosts%d-' % count, dir=WORK_DIR)
    inventory = write_inventory(hosts, directory)
    forks = max(args.forks, 10)
    entry = {'hosts': count, 'forks': forks, 'problems': []}
    sys.stdout.write('%s: bringing up (shared read-only Codex install)...\n' % label)
    try:
        bring_up(hosts, [fingerprint(key) for key in keys])
        current = keys[0]
        wall, output = playbook(inventory, 'deploy', current, keys, forks)
        entry['first_deploy_s'] = round(wall, 3)
        times = interleaved(inventory, hosts, args.reps, args.warmup, current, keys, forks, entry['problems'], label)
        entry['ping'] = {'median_s': median(times['ping']), 'samples_s': [round(t, 3) for t in times['ping']]}
        entry['deploy'] = {'median_s': median(times['deploy']), 'samples_s': [round(t, 3) for t in times['deploy']]}
        entry['deploy_ratio'] = round(entry['deploy']['median_s'] / entry['ping']['median_s'], 3)
        entry['deploy_s_per_host'] = round(entry['deploy']['median_s'] / count, 3)
        dummy, output = playbook(inventory, 'deploy', current, keys, forks, profile=True)
        entry['deploy_profile'] = profile_top(output)
        if count == 10 and not args.no_jobs:
            entry['jobs'] = {}
            for job in ('rotate_key', 'audit', 'offboard'):
                samples = []
                for rep in range(args.job_reps):
                    if job == 'rotate_key':
                        current = keys[(keys.index(current) + 1) % len(keys)]
                    wall, output = playbook(inventory, job, current, keys, forks,
                                            profile=(rep == args.job_reps - 1))
                    samples.append(wall)
                    if job == 'offboard':
                        playbook(inventory, 'deploy', current, keys, forks)
                entry['jobs'][job] = {'median_s': median(samples), 'samples_s': [round(t, 3) for t in samples],
                                      'ratio_to_ping': round(median(samples) / entry['ping']['median_s'], 3),
                                      'profile': profile_top(output)}
                job_ratio = entry['jobs'][job]['ratio_to_ping']
                sys.stdout.write('  %-8s %-12s median %6.2fs = %.2fx ping\n'
                                 % (label, job, statistics.median(samples), job_ratio))
    finally:
        if not args.keep:
            tear_down(hosts)
        shutil.rmtree(directory, ignore_errors=True)
    report['fleets'].append(entry)


def demo_run(args, report):
    """The demo fleet of ``make deploy``: deploy (converged) vs ping on demo/inventory.yml."""
    inventory = os.path.join(REPO_ROOT, 'demo', 'inventory.yml')
    hosts = ['demo-laptop-1', 'demo-laptop-2', 'demo-ci-1']
    if any(container_state(name) is not True for name in hosts):
        sys.stdout.write('demo: the demo fleet is not up; running make deploy first (untimed)...\n')
        run(['bash', os.path.join(REPO_ROOT, 'scripts', 'demo-deploy.sh')], capture_output=False)
    vault = ['--vault-password-file', os.path.join(REPO_ROOT, 'demo', 'vault-password.DEMO-ONLY.txt')]
    # the key of `make demo-rotate`, when the demo was rotated, outranks the committed one (as in
    # scripts/lib-demo.sh): the demo's stand-in accepts only the key in effect
    rotated = os.path.join(REPO_ROOT, 'demo', '.state', 'rotated-key.DEMO-ONLY.yml')
    if os.path.exists(rotated):
        vault += ['-e', '@' + rotated]
    directory = tempfile.mkdtemp(prefix='demo-', dir=WORK_DIR)
    ping = os.path.join(directory, 'ping.yml')
    with open(ping, 'w', encoding='utf-8') as handle:
        handle.write('- name: Ping the fleet\n  hosts: all\n  gather_facts: false\n  tasks:\n'
                     '    - name: Ping\n      ansible.builtin.ping:\n')
    entry = {'hosts': 'demo (%d)' % len(hosts), 'problems': []}
    times = {'ping': [], 'deploy': []}
    for rep in range(args.warmup + args.reps):
        for what in (('ping', 'deploy') if rep % 2 == 0 else ('deploy', 'ping')):
            command = ['ansible-playbook', '-i', inventory, ping if what == 'ping' else 'bytes4096.codex.deploy'] + vault
            start = time.perf_counter()
            result = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
            wall = time.perf_counter() - start
            if result.returncode != 0:
                raise BenchError('demo %s failed:\n%s' % (what, (result.stdout + result.stderr)[-4000:]))
            if what == 'deploy':
                entry['problems'].extend('demo rep %d: %s' % (rep, p) for p in check_converged(result.stdout, hosts))
            if rep >= args.warmup:
                times[what].append(wall)
            phase = 'rep %d' % (rep - args.warmup + 1) if rep >= args.warmup else 'warm-up'
            sys.stdout.write('  %-8s %-9s %-7s %6.2fs\n' % ('demo', phase, what, wall))
    shutil.rmtree(directory, ignore_errors=True)
    entry['ping'] = {'median_s': median(times['ping']), 'samples_s': [round(t, 3) for t in times['ping']]}
    entry['deploy'] = {'median_s': median(times['deploy']), 'samples_s': [round(t, 3) for t in times['deploy']]}
    entry['deploy_ratio'] = round(entry['deploy']['median_s'] / entry['ping']['median_s'], 3)
    report['fleets'].insert(0, entry)


def print_report(report):
    out = sys.stdout.write
    out('\nbytes4096.codex fleet benchmark, %s (git %s)\n' % (report['date'], report['machine']['git']))
    out('converged deploy vs a one-task ping play on the same hosts (medians, wall time, start to exit)\n\n')
    out('%-12s %10s %10s %8s %10s   %s\n' % ('fleet', 'ping', 'deploy', 'ratio', 's/host', 'target'))
    for entry in report['fleets']:
        per_host = entry.get('deploy_s_per_host')
        out('%-12s %9.2fs %9.2fs %8.2f %10s   %s <= %.1f\n' % (
            entry['hosts'], entry['ping']['median_s'], entry['deploy']['median_s'], entry['deploy_ratio'],
            '%.3f' % per_host if per_host else '-', 'PASS' if entry['deploy_ratio'] <= TARGET_DEPLOY_RATIO
            else 'FAIL', TARGET_DEPLOY_RATIO))
    for entry in report['fleets']:
        for job, data in sorted(entry.get('jobs', {}).items()):
            out('%-12s %-10s median %6.2fs = %.2fx ping; slowest tasks: %s\n' % (
                entry['hosts'], job, data['median_s'], data['ratio_to_ping'],
                '; '.join('%s %.1fs' % item for item in data['profile'][:4])))
        if entry.get('deploy_profile'):
            out('%-12s deploy (converged) slowest tasks: %s\n' % (
                entry['hosts'], '; '.join('%s %.1fs' % item for item in entry['deploy_profile'][:4])))
    problems = [p for entry in report['fleets'] for p in entry['problems']]
    if problems:
        out('\nproblems\n' + ''.join('  - %s\n' % p for p in problems))
    out('\nfleet result: %s (%s)\n' % ('PASS' if report['ok'] else 'FAIL', report['result_file']))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--sizes', default='10,40', help='fleet sizes to start (default 10,40; 0 for none)')
    parser.add_argument('--demo', action='store_true', help='also measure on the demo fleet of make deploy')
    parser.add_argument('--reps', type=int, default=5, help='timed deploy/ping pairs per fleet (default 5)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed pairs first (default 1)')
    parser.add_argument('--job-reps', type=int, default=3, help='timed runs of rotate/audit/offboard (default 3)')
    parser.add_argument('--no-jobs', action='store_true', help='skip rotate_key, audit and offboard')
    parser.add_argument('--forks', type=int, default=20, help='forks (default 20; at least 10)')
    parser.add_argument('--keep', action='store_true', help='leave the bench hosts running')
    args = parser.parse_args(argv)
    args.sizes = [int(size) for size in args.sizes.split(',') if size.strip() and int(size) > 0]
    return args


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(RESULTS_DIR, exist_ok=True)
    os.makedirs(WORK_DIR, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    report = {'date': started.strftime('%Y-%m-%d %H:%M UTC'), 'machine': machine_info(), 'fleets': [],
              'load_before': '%.2f' % os.getloadavg()[0], 'reps': args.reps}
    if args.demo:
        demo_run(args, report)
    for count in args.sizes:
        fleet_run(count, args, report)
    report['load_after'] = '%.2f' % os.getloadavg()[0]
    report['ok'] = all(entry['deploy_ratio'] <= TARGET_DEPLOY_RATIO and not entry['problems']
                       for entry in report['fleets'])
    save_report(report, 'fleet', started)
    print_report(report)
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    run_cli(main)
