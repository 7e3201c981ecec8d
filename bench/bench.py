# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Speed benchmark of bytes4096.codex.codex_config (issue 3, "Check, diff, speed").

Run it through ``bash bench/run.sh`` (or ``make bench``): that script sources scripts/env.sh so the
venv, the collection path and CONTAINERS_CONF are right. One run:

1. starts (or reuses) ten podman hosts bench-01..bench-10 from the test image;
2. prepares each as a laptop: alice's ~/.codex with a 200-line config.toml that already holds the
   4096bytes block, and an auth.json with a key generated for this run (it lives only in memory
   here, in BENCH_API_KEY of the ansible-playbook child, and in the hosts' auth.json);
3. times, interleaved and repeated, (a) a ping play, (b) codex_config on the unchanged fleet,
   (c) a key rotation with codex_config, (d) the same rotation with blockinfile + copy, each
   rotation with a fresh key, and checks every result (changed flags, fingerprints, no key in
   the output);
4. counts target-side module executions per host from one -vvv run of each scenario;
5. times the controller-side merge engine in-process on the same 200-line config.toml;
6. prints ratios against the targets of issue 3 and writes bench/results/bench-<time>.json.

Exit status: 0 when every target is met and every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import importlib
import json
import os
import platform
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, 'results')
INVENTORY = os.path.join(BENCH_DIR, 'inventory.yml')
ENGINE_MODULE = 'ansible_collections.bytes4096.codex.plugins.plugin_utils._toml_merge'
HOSTS = ['bench-%02d' % number for number in range(1, 11)]
IMAGE = os.environ.get('TEST_IMAGE', 'localhost/bytes4096-codex-test:bookworm')
CODEX_HOME = '/home/alice/.codex'
LABEL = 'bytes4096.codex.bench=1'

SCENARIOS = {
    'ping': ('(a) ping play', 'ping.yml'),
    'unchanged': ('(b) codex_config, unchanged fleet', 'codex_config.yml'),
    'rotate': ('(c) key rotation, codex_config', 'codex_config.yml'),
    'handwritten': ('(d) key rotation, blockinfile + copy', 'handwritten.yml'),
}
# Interleaved so that load from anything else on the machine hits every scenario alike; the
# unchanged run always follows a codex_config rotation, so it sees the fleet in the state
# codex_config itself leaves.
ORDERS = (
    ('ping', 'handwritten', 'rotate', 'unchanged'),
    ('rotate', 'unchanged', 'handwritten', 'ping'),
)
ROTATIONS = ('rotate', 'handwritten')

TARGET_UNCHANGED_RATIO = 1.1
TARGET_ROTATION_RATIO = 0.9
TARGET_MERGE_MS = 30.0
TARGET_EXECS_UNCHANGED = 1
TARGET_EXECS_CHANGED = 2

# A module execution in -vvv output of the podman connection:
#   <bench-01> RUN [b'/usr/bin/podman', b'exec', b'bench-01', b'/bin/sh', b'-c', b"/usr/bin/python3 /root/.ansible/tmp/.../AnsiballZ_ping.py && sleep 0"]
RUN_LINE = re.compile(r'^<(?P<host>[^>]+)> RUN (?P<args>.*)$')
PUT_LINE = re.compile(r'^<(?P<host>[^>]+)> PUT ')
MODULE_EXEC = re.compile(r"python[0-9.]*'?,? ?b?'?\S*?AnsiballZ_(?P<module>[A-Za-z0-9_]+)\.py")


class BenchError(Exception):
    """The benchmark could not run (not a missed target)."""


def fingerprint(key):
    """The public fingerprint of a key, in the format codex_config returns (sha256:<16 hex>)."""
    return 'sha256:' + hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]


def new_key():
    return 'sk-bench-' + secrets.token_urlsafe(32)


def run(command, check=True, **kwargs):
    kwargs.setdefault('capture_output', True)
    kwargs.setdefault('text', True)
    result = subprocess.run(command, check=False, **kwargs)
    if check and result.returncode != 0:
        detail = (result.stderr or result.stdout or '').strip()[-2000:]
        raise BenchError('%s failed (rc=%d): %s' % (' '.join(command), result.returncode, detail))
    return result


# ----------------------------------------------------------------------------------------------
# The fleet


def container_running(name):
    result = run(['podman', 'container', 'inspect', '--format', '{{.State.Running}}', name], check=False)
    if result.returncode != 0:
        return None
    return result.stdout.strip() == 'true'


def bring_up():
    """Start the bench hosts (same shape as molecule/default/molecule.yml); reuse running ones."""
    for name in HOSTS:
        state = container_running(name)
        if state is None:
            run(['podman', 'run', '--detach', '--name', name, '--hostname', name, '--label', LABEL,
                 '--ulimit', 'nofile=1024:20000', '--ulimit', 'nproc=4096:4096',
                 '--volume', '/etc/ssl/certs:/etc/ssl/certs:ro', IMAGE, 'sleep', 'infinity'])
        elif not state:
            run(['podman', 'start', name])
    for name in HOSTS:
        run(['podman', 'exec', name, '/usr/bin/python3', '-c', 'pass'])


def tear_down():
    present = [name for name in HOSTS if container_running(name) is not None]
    if present:
        run(['podman', 'rm', '--force', '--time', '0'] + present, check=False)


def host_file(host, path):
    return run(['podman', 'exec', host, 'cat', path]).stdout


def host_listing(host, path):
    return sorted(run(['podman', 'exec', host, 'ls', '-A', path]).stdout.split())


# ----------------------------------------------------------------------------------------------
# Playbook runs


def playbook_env(key, json_output):
    env = dict(os.environ)
    env.update({
        'BENCH_API_KEY': key,
        'ANSIBLE_FORKS': '10',
        'ANSIBLE_PIPELINING': 'True',
        'ANSIBLE_RETRY_FILES_ENABLED': 'False',
    })
    if json_output:
        env['ANSIBLE_STDOUT_CALLBACK'] = 'ansible.posix.json'
    return env


def run_playbook(playbook, key, secrets_in_play, verbose=False):
    """Run one playbook; return (wall s, CPU s, stdout). Fails on error or on a leaked key.

    The CPU time is that of the whole process tree the run waited for (ansible-playbook, its
    workers and the podman clients they start), from getrusage(RUSAGE_CHILDREN).
    """
    command = ['ansible-playbook', '-i', INVENTORY, os.path.join(BENCH_DIR, playbook)]
    if verbose:
        command.append('-vvv')
    env = playbook_env(key, json_output=not verbose)
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=BENCH_DIR, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    usage_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage_after.ru_utime - usage_before.ru_utime) + (usage_after.ru_stime - usage_before.ru_stime)
    output = result.stdout + result.stderr
    for secret in secrets_in_play:
        if secret in output:
            raise BenchError('%s: an API key appeared in the ansible-playbook output (not shown)' % playbook)
    if result.returncode != 0:
        raise BenchError('%s failed (rc=%d):\n%s' % (playbook, result.returncode, failure_summary(result, verbose)))
    return wall, cpu, result.stdout


def failure_summary(result, verbose):
    """The messages of failed hosts (from the JSON callback), or the tail of the output."""
    if not verbose:
        try:
            data = json.loads(result.stdout[result.stdout.index('{'):])
            lines = []
            for play in data['plays']:
                for task in play['tasks']:
                    for host, res in sorted(task['hosts'].items()):
                        if res.get('failed') or res.get('unreachable'):
                            lines.append('  %s [%s]: %s' % (host, task['task']['name'], res.get('msg')))
            if lines:
                return '\n'.join(lines) + '\n' + result.stderr[-2000:]
        except (ValueError, KeyError, TypeError):
            pass
    return (result.stdout + result.stderr)[-4000:]


def json_results(stdout):
    """Per task name, per host result, from the ansible.posix.json callback."""
    data = json.loads(stdout[stdout.index('{'):])
    tasks = {}
    for play in data['plays']:
        for task in play['tasks']:
            tasks[task['task']['name']] = task['hosts']
    for host in HOSTS:
        stats = data['stats'].get(host)
        if not stats or stats.get('failures') or stats.get('unreachable'):
            raise BenchError('host %s did not finish cleanly: %r' % (host, stats))
    return tasks


def expect(condition, message, problems):
    if not condition:
        problems.append(message)


def check_scenario(scenario, stdout, key):
    """Check that the run did what the scenario claims; return a list of problems."""
    problems = []
    tasks = json_results(stdout)
    if scenario in ('unchanged', 'rotate'):
        results = tasks['Merge the provider block and write the key']
        for host in HOSTS:
            res = results.get(host, {})
            if scenario == 'unchanged':
                expect(res.get('changed') is False, '%s: unchanged fleet reported changed=%r'
                       % (host, res.get('changed')), problems)
            else:
                expect(res.get('changed') is True, '%s: rotation reported changed=%r' % (host, res.get('changed')), problems)
                expect(res.get('auth_changed') is True, '%s: rotation reported auth_changed=%r'
                       % (host, res.get('auth_changed')), problems)
                expect(res.get('config_changed') is False, '%s: rotation touched config.toml (config_changed=%r)'
                       % (host, res.get('config_changed')), problems)
                expect(res.get('key_fingerprint') == fingerprint(key), '%s: key_fingerprint %r is not the new key\'s %s'
                       % (host, res.get('key_fingerprint'), fingerprint(key)), problems)
    elif scenario == 'handwritten':
        block = tasks['Keep the provider block in config.toml']
        auth = tasks['Write auth.json with the new key']
        for host in HOSTS:
            expect(block.get(host, {}).get('changed') is False, '%s: blockinfile changed config.toml' % host, problems)
            expect(auth.get(host, {}).get('changed') is True, '%s: copy did not rotate auth.json' % host, problems)
    return problems


def count_round_trips(output):
    """Per host: module executions (by module name), podman invocations and file transfers."""
    counts = {host: {'module_executions': 0, 'modules': {}, 'podman_calls': 0, 'file_transfers': 0} for host in HOSTS}
    for line in output.splitlines():
        match = RUN_LINE.match(line)
        if match and match.group('host') in counts:
            entry = counts[match.group('host')]
            entry['podman_calls'] += 1
            module = MODULE_EXEC.search(match.group('args'))
            if module and 'chmod' not in match.group('args'):
                entry['module_executions'] += 1
                entry['modules'][module.group('module')] = entry['modules'].get(module.group('module'), 0) + 1
            continue
        match = PUT_LINE.match(line)
        if match and match.group('host') in counts:
            counts[match.group('host')]['file_transfers'] += 1
    return counts


# ----------------------------------------------------------------------------------------------
# Controller CPU of the merge engine


def laptop_config_text():
    with open(os.path.join(BENCH_DIR, 'files', 'laptop-config.toml.j2'), encoding='utf-8') as handle:
        template = handle.read()
    with open(os.path.join(BENCH_DIR, 'files', 'dashboard-block.toml'), encoding='utf-8') as handle:
        block = handle.read()
    text = template.replace('{{ bench_block }}', block.rstrip('\n'))
    if '{{' in text:
        raise BenchError('laptop-config.toml.j2 uses template syntax the CPU harness does not render')
    return text, block


def load_engine():
    """Import the merge engine the way Ansible does: through ansible_collections."""
    collections_root = os.environ.get('COLLECTIONS_ROOT', os.path.join(REPO_ROOT, '.build', 'collections'))
    if not os.path.isdir(os.path.join(collections_root, 'ansible_collections', 'bytes4096', 'codex')):
        raise BenchError('%s does not hold ansible_collections/bytes4096/codex: run through bench/run.sh'
                         % collections_root)
    if collections_root not in sys.path:
        sys.path.insert(0, collections_root)
    try:
        return importlib.import_module(ENGINE_MODULE)
    except ImportError as exc:
        raise BenchError('cannot import the merge engine %s: %s' % (ENGINE_MODULE, exc))


def cpu_bench(runs):
    """Controller CPU of merge_config + validate_config, in-process, for three cases.

    CPU time of this process (time.process_time) is what the target is about; wall time is kept
    beside it because on a loaded 2-core machine the two differ a lot. tomlkit.parse of the same
    text is timed as a floor: the engine cannot be cheaper than one parse when it must edit.
    """
    engine = load_engine()
    tomlkit = importlib.import_module('tomlkit')  # loaded already by the engine
    text, block = laptop_config_text()
    begin = text.index('# BEGIN 4096bytes provider block')
    end = text.index('# END 4096bytes provider block')
    bare = text[:begin] + text[text.index('\n', end) + 1:]
    cases = {
        'unchanged (block already merged)': (text, None, False),
        'update one key (settings: model)': (text, {'model': 'gpt-5.5-pro'}, True),
        'first merge (block not there yet)': (bare, None, True),
    }
    report = {'lines': len(text.splitlines()), 'runs': runs, 'cases': {}}

    def measure(function):
        cpu, wall = [], []
        for dummy in range(runs):
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            function()
            cpu.append((time.process_time() - cpu_start) * 1000.0)
            wall.append((time.perf_counter() - wall_start) * 1000.0)
        cpu.sort()
        return {
            'cpu_median_ms': round(statistics.median(cpu), 3),
            'cpu_p95_ms': round(cpu[int(len(cpu) * 0.95) - 1], 3),
            'wall_median_ms': round(statistics.median(wall), 3),
        }

    for name, (existing, settings, changed) in cases.items():

        def once(existing=existing, settings=settings):
            result = engine.merge_config(existing, block=block, settings=settings)
            engine.validate_config(result.data, engine.desired_data(block, settings))
            return result

        result = once()
        if result.changed is not changed:
            raise BenchError('merge engine: case %r reported changed=%r' % (name, result.changed))
        report['cases'][name] = measure(once)
    report['tomlkit_parse'] = measure(lambda: tomlkit.parse(text))
    report['worst_cpu_median_ms'] = max(case['cpu_median_ms'] for case in report['cases'].values())
    return report


# ----------------------------------------------------------------------------------------------
# Reporting


def machine_info():
    info = {
        'cpus': os.cpu_count(),
        'platform': platform.platform(),
        'python': platform.python_version(),
    }
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as handle:
            models = [line.split(':', 1)[1].strip() for line in handle if line.startswith('model name')]
        info['cpu_model'] = models[0] if models else None
        with open('/proc/meminfo', encoding='utf-8') as handle:
            info['memory_gib'] = round(int(handle.readline().split()[1]) / 1048576.0, 1)
    except (OSError, ValueError, IndexError):
        pass
    info['ansible_core'] = run(['ansible', '--version'], check=False).stdout.splitlines()[0:1]
    info['podman'] = run(['podman', '--version'], check=False).stdout.strip()
    git = run(['git', '-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], check=False).stdout.strip()
    dirty = run(['git', '-C', REPO_ROOT, 'status', '--porcelain'], check=False).stdout.strip()
    info['git'] = git + ('+dirty' if dirty else '')
    return info


def verdict(ok):
    if ok is None:
        return 'SKIP'
    return 'PASS' if ok else 'FAIL'


def summarize(times):
    summary = {}
    for scenario, samples in times.items():
        if samples:
            summary[scenario] = {
                'median_s': round(statistics.median(samples), 3),
                'min_s': round(min(samples), 3),
                'max_s': round(max(samples), 3),
                'samples_s': [round(sample, 3) for sample in samples],
            }
    return summary


def ratio(summary, numerator, denominator):
    if numerator in summary and denominator in summary:
        return round(summary[numerator]['median_s'] / summary[denominator]['median_s'], 3)
    return None


def paired_ratio(times, numerator, denominator):
    pairs = [a / b for a, b in zip(times.get(numerator, []), times.get(denominator, []))]
    return round(statistics.median(pairs), 3) if pairs else None


def max_execs(counts, scenario):
    if scenario not in counts:
        return None
    return max(entry['module_executions'] for entry in counts[scenario].values())


def min_execs(counts, scenario):
    if scenario not in counts:
        return None
    return min(entry['module_executions'] for entry in counts[scenario].values())


def print_report(report):
    out = sys.stdout.write
    machine = report['machine']
    out('\nbytes4096.codex speed benchmark, %s\n' % report['date'])
    out('machine: %s CPUs (%s), %s GiB, load %s -> %s; %s; %s; git %s\n' % (
        machine['cpus'], machine.get('cpu_model'), machine.get('memory_gib'), report['load_before'],
        report['load_after'], ' '.join(machine['ansible_core']), machine['podman'], machine['git']))
    out('fleet: %d podman hosts, forks 10, pipelining on in the config; %d timed repetitions '
        '(+%d warm-up), interleaved\n\n' % (len(HOSTS), report['repetitions'], report['warmup']))
    out('%-40s %9s %9s %9s %11s\n' % ('scenario (ansible-playbook, start to exit)', 'median', 'min', 'max', 'CPU median'))
    out('%-40s %s\n' % ('', '(wall time; CPU = ansible + podman clients on the controller)'))
    for scenario, (title, dummy) in SCENARIOS.items():
        if scenario in report['times']:
            entry = report['times'][scenario]
            values = (title, entry['median_s'], entry['min_s'], entry['max_s'], entry['cpu_median_s'])
            out('%-40s %8.2fs %8.2fs %8.2fs %10.2fs\n' % values)
    if report['round_trips']:
        out('\ntarget side, per host (one -vvv run each): module executions / podman calls / file transfers\n')
        for scenario, counts in report['round_trips'].items():
            execs = sorted({entry['module_executions'] for entry in counts.values()})
            calls = sorted({entry['podman_calls'] for entry in counts.values()})
            puts = sorted({entry['file_transfers'] for entry in counts.values()})
            modules = counts[HOSTS[0]]['modules']
            out('  %-38s %s / %s / %s   %s\n' % (SCENARIOS[scenario][0], execs, calls, puts,
                                                 ', '.join('%s x%d' % item for item in sorted(modules.items()))))
    cpu = report.get('merge_cpu')
    if cpu:
        out('\ncontroller merge CPU, %d-line config.toml, %d runs each (merge_config + validate_config)\n'
            % (cpu['lines'], cpu['runs']))
        rows = list(cpu['cases'].items()) + [('(floor: one tomlkit.parse of the file)', cpu['tomlkit_parse'])]
        for name, entry in rows:
            out('  %-38s CPU median %6.2f ms  p95 %6.2f ms   wall median %6.2f ms\n'
                % (name, entry['cpu_median_ms'], entry['cpu_p95_ms'], entry['wall_median_ms']))
    out('\ntargets (issue 3)\n')
    for target in report['targets']:
        out('  %-4s %-52s %s\n' % (target['verdict'], target['name'], target['value']))
    if report['problems']:
        out('\nproblems\n')
        for problem in report['problems']:
            out('  - %s\n' % problem)
    out('\nresult: %s (%s)\n' % ('PASS' if report['ok'] else 'FAIL', report['result_file']))


def build_targets(summary, times, counts, cpu):
    targets = []
    value = ratio(summary, 'unchanged', 'ping')
    targets.append({'name': 'unchanged / ping wall time <= %.1f' % TARGET_UNCHANGED_RATIO,
                    'value': '%s (paired median %s)' % (value, paired_ratio(times, 'unchanged', 'ping')),
                    'ratio': value, 'verdict': verdict(None if value is None else value <= TARGET_UNCHANGED_RATIO)})
    value = ratio(summary, 'rotate', 'handwritten')
    targets.append({'name': 'rotation: codex_config / blockinfile+copy <= %.1f' % TARGET_ROTATION_RATIO,
                    'value': '%s (paired median %s)' % (value, paired_ratio(times, 'rotate', 'handwritten')),
                    'ratio': value, 'verdict': verdict(None if value is None else value <= TARGET_ROTATION_RATIO)})
    for numerator, denominator in (('unchanged', 'ping'), ('rotate', 'handwritten')):
        if numerator in summary and denominator in summary:
            value = round(summary[numerator]['cpu_median_s'] / summary[denominator]['cpu_median_s'], 3)
            targets.append({'name': 'info: controller CPU %s / %s' % (numerator, denominator),
                            'value': str(value), 'ratio': value, 'verdict': 'INFO'})
    low, high = min_execs(counts, 'unchanged'), max_execs(counts, 'unchanged')
    targets.append({'name': 'module executions per host, unchanged == %d' % TARGET_EXECS_UNCHANGED,
                    'value': '%s..%s' % (low, high),
                    'verdict': verdict(None if high is None else low == high == TARGET_EXECS_UNCHANGED)})
    high = max_execs(counts, 'rotate')
    targets.append({'name': 'module executions per host, rotation <= %d' % TARGET_EXECS_CHANGED,
                    'value': 'max %s' % high,
                    'verdict': verdict(None if high is None else high <= TARGET_EXECS_CHANGED)})
    worst = cpu['worst_cpu_median_ms'] if cpu else None
    targets.append({'name': 'controller merge CPU, 200-line config.toml < %d ms' % TARGET_MERGE_MS,
                    'value': 'worst CPU median %s ms' % worst,
                    'verdict': verdict(None if worst is None else worst < TARGET_MERGE_MS)})
    return targets


# ----------------------------------------------------------------------------------------------
# Main


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--reps', type=int, default=5, help='timed repetitions per scenario (default 5)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed repetitions first (default 1)')
    parser.add_argument('--cpu-runs', type=int, default=200, help='merge engine runs per case (default 200)')
    parser.add_argument('--only', default=','.join(SCENARIOS),
                        help='comma-separated scenarios to run (default all: %s)' % ','.join(SCENARIOS))
    parser.add_argument('--keep', action='store_true', help='leave the bench hosts running')
    parser.add_argument('--no-cpu', action='store_true', help='skip the merge engine CPU timing')
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(',') if name.strip()]
    unknown = [name for name in args.only if name not in SCENARIOS]
    if unknown or not args.only:
        parser.error('unknown scenarios %s; choose from %s' % (unknown, ', '.join(SCENARIOS)))
    if args.reps < 1:
        parser.error('--reps must be at least 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    for tool in ('podman', 'ansible-playbook'):
        if not shutil.which(tool):
            raise BenchError('%s not found: run through bench/run.sh (it sources scripts/env.sh)' % tool)
    os.makedirs(RESULTS_DIR, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)
    report = {
        'date': started.strftime('%Y-%m-%d %H:%M UTC'),
        'machine': machine_info(),
        'load_before': '%.2f' % os.getloadavg()[0],
        'repetitions': args.reps,
        'warmup': args.warmup,
        'hosts': len(HOSTS),
        'problems': [],
    }
    times = {scenario: [] for scenario in SCENARIOS if scenario in args.only}
    cpu_times = {scenario: [] for scenario in SCENARIOS if scenario in args.only}
    counts = {}
    keys_used = []

    cpu = None
    if not args.no_cpu:
        sys.stdout.write('timing the merge engine in-process (%d runs per case)...\n' % args.cpu_runs)
        cpu = cpu_bench(args.cpu_runs)

    sys.stdout.write('bringing up %d bench hosts from %s...\n' % (len(HOSTS), IMAGE))
    try:
        bring_up()
        current = new_key()
        keys_used.append(current)
        run_playbook('prepare.yml', current, keys_used)
        prepared_config = host_file(HOSTS[0], CODEX_HOME + '/config.toml')
        prepared_digest = hashlib.sha256(prepared_config.encode('utf-8')).hexdigest()
        report['config_lines'] = len(prepared_config.splitlines())

        for rep in range(args.warmup + args.reps):
            timed = rep >= args.warmup
            for scenario in ORDERS[rep % 2]:
                if scenario not in args.only:
                    continue
                key = new_key() if scenario in ROTATIONS else current
                if key != current:
                    keys_used.append(key)
                wall, cpu_s, stdout = run_playbook(SCENARIOS[scenario][1], key, keys_used)
                report['problems'].extend('%s run %d: %s' % (scenario, rep, problem)
                                          for problem in check_scenario(scenario, stdout, key))
                current = key
                sys.stdout.write('  %-7s %-12s %6.2fs wall %6.2fs CPU\n' % (
                    'rep %d' % (rep - args.warmup + 1) if timed else 'warm-up', scenario, wall, cpu_s))
                sys.stdout.flush()
                if timed:
                    times[scenario].append(wall)
                    cpu_times[scenario].append(cpu_s)

        sys.stdout.write('counting target round trips (-vvv)...\n')
        for scenario in ORDERS[0]:
            if scenario not in args.only:
                continue
            key = new_key() if scenario in ROTATIONS else current
            if key != current:
                keys_used.append(key)
            dummy, dummy, output = run_playbook(SCENARIOS[scenario][1], key, keys_used, verbose=True)
            current = key
            counts[scenario] = count_round_trips(output)

        for host in HOSTS:
            config = host_file(host, CODEX_HOME + '/config.toml')
            if hashlib.sha256(config.encode('utf-8')).hexdigest() != prepared_digest:
                report['problems'].append('%s: config.toml differs from the prepared file after the run' % host)
            auth = json.loads(host_file(host, CODEX_HOME + '/auth.json'))
            if auth.get('OPENAI_API_KEY') != current:
                report['problems'].append('%s: auth.json does not hold the last rotated key' % host)
            extra = [name for name in host_listing(host, CODEX_HOME) if name not in ('config.toml', 'auth.json')]
            if extra:
                report['problems'].append('%s: unexpected files left in %s: %s' % (host, CODEX_HOME, ', '.join(extra)))
    finally:
        if args.keep:
            sys.stdout.write('leaving the bench hosts running (--keep)\n')
        else:
            tear_down()

    report['load_after'] = '%.2f' % os.getloadavg()[0]
    summary = summarize(times)
    for scenario, samples in cpu_times.items():
        if samples:
            summary[scenario]['cpu_median_s'] = round(statistics.median(samples), 3)
            summary[scenario]['cpu_samples_s'] = [round(sample, 3) for sample in samples]
    report['times'] = summary
    report['round_trips'] = counts
    report['merge_cpu'] = cpu
    report['targets'] = build_targets(summary, times, counts, cpu)
    report['ok'] = not report['problems'] and all(target['verdict'] != 'FAIL' for target in report['targets'])
    save_report(report, 'bench', started)
    print_report(report)
    return 0 if report['ok'] else 1


def save_report(report, name, started):
    """Write the report to bench/results/<name>-<UTC time>.json and keep that path in it."""
    report['result_file'] = os.path.relpath(
        os.path.join(RESULTS_DIR, '%s-%s.json' % (name, started.strftime('%Y%m%dT%H%M%SZ'))), REPO_ROOT)
    with open(os.path.join(REPO_ROOT, report['result_file']), 'w', encoding='utf-8') as handle:
        json.dump(report, handle, indent=2, sort_keys=True)
        handle.write('\n')


def run_cli(main_function):
    """Exit with main's status; a BenchError is one line on stderr, not a traceback."""
    try:
        sys.exit(main_function())
    except BenchError as exc:
        sys.stderr.write('bench: %s\n' % exc)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == '__main__':
    run_cli(main)
