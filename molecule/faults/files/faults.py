"""Helper of the faults scenario (run with python3): plans kill points, inspects Codex homes, judges the runs.

  setup-cases ROOT TEMPLATE OWNER < CASES   (on the host) one fresh copy of TEMPLATE per case,
                            with the control line the wrapper interpreter reads
  setup-kills ROOT TEMPLATE OWNER REPS < PLAN   (on the host) the cases of a plan, REPS per point
  killed CASE...            (on the host) whether the injected SIGKILL landed, per case
  plan   HOME TRACE...      (on the host) read the strace logs of one clean, traced task run and
                            list the kill points of its write trip as JSON
  state  KEYDIR HOME...     (on the host) what each Codex home holds, as JSON (no secret in it)
  judge-kills FILE          (on the controller) verdict on the kill runs; prints the counts
  judge-race FILE           (on the controller) verdict on the concurrent runs

The plan assumes only that the module commits each file by renaming something over it: the trip
that renames into HOME is the write trip, and every system call of that trip that changes
something under HOME (create, write, chmod/chown, fsync, rename, unlink, ...) gives two kill
points, one on entering that call and one on entering the next call of the same process.
strace counts injections per process and per system call, so a point is "the Nth call of
SYSCALL", which the wrapper interpreter hands to ``strace -e inject=SYSCALL:signal=KILL:when=N``.
"""

import hashlib
import json
import os
import re
import stat
import sys

LINE = re.compile(r'^(\d+)\s+(.*)$')
RESUMED = re.compile(r'^<\.\.\. (\w+) resumed>(.*)$')
CALL = re.compile(r'^(\w+)\((.*)$')
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
MUTATING = {'write', 'pwrite64', 'writev', 'pwritev', 'pwritev2', 'fsync', 'fdatasync', 'sync_file_range',
            'fchmod', 'fchmodat', 'chmod', 'fchown', 'fchownat', 'chown', 'lchown', 'rename', 'renameat',
            'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'unlink', 'unlinkat', 'mkdir', 'mkdirat',
            'rmdir', 'ftruncate', 'truncate', 'fallocate', 'copy_file_range', 'sendfile'}
OPENS = {'open', 'openat', 'creat', 'openat2'}
FD_FIRST = {'write', 'pwrite64', 'writev', 'pwritev', 'pwritev2', 'fsync', 'fdatasync', 'sync_file_range', 'fchmod',
            'fchown', 'ftruncate', 'fallocate', 'close', 'flock', 'fcntl', 'read', 'pread64', 'fstat', 'lseek'}
RENAMES = {'rename', 'renameat', 'renameat2'}
STATE = '/var/lib/faults'
FORKS = {'clone', 'clone3', 'fork', 'vfork'}


def parse_trace(path):
    """strace -f log -> list of calls in start order: dict(pid, name, args, ret)."""
    calls, pending = [], {}
    with open(path, errors='replace') as handle:
        for raw in handle:
            match = LINE.match(raw.rstrip('\n'))
            if not match:
                continue
            pid, rest = int(match.group(1)), match.group(2)
            resumed = RESUMED.match(rest)
            if resumed:
                call = pending.pop(pid, None)
                if call is not None:
                    tail = resumed.group(2)
                    call['args'] += tail.rsplit(' = ', 1)[0].rstrip().rstrip(')')
                    call['ret'] = tail.rsplit(' = ', 1)[1].split()[0] if ' = ' in tail else '?'
                continue
            found = CALL.match(rest)
            if not found:
                continue  # signals, exits
            call = {'pid': pid, 'name': found.group(1), 'args': found.group(2), 'ret': '?'}
            if rest.endswith('<unfinished ...>'):
                call['args'] = call['args'][:-len('<unfinished ...>')]
                pending[pid] = call
            elif ' = ' in rest:
                call['args'], ret = call['args'].rsplit(' = ', 1)
                call['ret'] = ret.split()[0]
            call['args'] = call['args'].rstrip().rstrip(')')
            calls.append(call)
    return calls


def _under(path, home):
    return path is not None and (path == home or path.startswith(home + '/'))


def annotate(calls, home):
    """Resolve the paths each call touches (fd table per process) and mark the changes under home."""
    fds = {}
    for index, call in enumerate(calls):
        call['index'] = index
        table = fds.setdefault(call['pid'], {})
        args = call['args']
        first = args.split(',', 1)[0].strip()
        paths = [bytes(p, 'utf-8').decode('unicode_escape') for p in QUOTED.findall(args)]
        dirfd = table.get(int(first)) if first.isdigit() else None
        resolved = []
        for path in paths:
            if not path.startswith('/'):
                base = dirfd if dirfd else None
                path = os.path.normpath(os.path.join(base, path)) if base else path
            resolved.append(path)
        fd_path = table.get(int(first)) if (first.isdigit() and call['name'] in FD_FIRST) else None
        call['paths'] = resolved + ([fd_path] if fd_path else [])
        call['targets'] = resolved
        touches = any(_under(p, home) for p in call['paths'])
        writable = 'O_CREAT' in args or 'O_WRONLY' in args or 'O_RDWR' in args or 'O_TRUNC' in args
        call['change'] = touches and (call['name'] in MUTATING or (call['name'] in OPENS and writable))
        if call['name'] in OPENS and call['ret'].isdigit() and resolved:
            table[int(call['ret'])] = resolved[0]
        elif call['name'] == 'close' and first.isdigit():
            table.pop(int(first), None)
        elif call['name'] in FORKS and call['ret'].isdigit():
            fds[int(call['ret'])] = dict(table)
    return calls


def _short(path, home):
    if path is None:
        return ''
    name = os.path.relpath(path, home) if _under(path, home) else path
    known = {'', 'config', 'toml', 'auth', 'json', 'tmp', 'lock', 'codex', '..'}
    return '.'.join(part if part in known else 'X' for part in name.split('.')) if name not in (
        'config.toml', 'auth.json', '.') else name


def _describe(call, home):
    touched = [p for p in call['paths'] if _under(p, home)] or call['paths']
    if call['name'] in RENAMES and len(touched) >= 2:
        return '%s %s -> %s' % (call['name'], _short(touched[0], home), _short(touched[1], home))
    return '%s %s' % (call['name'], _short(touched[0], home) if touched else '')


def plan(home, traces):
    home = os.path.normpath(home)
    chosen = None
    for trip, path in enumerate(traces, 1):
        calls = annotate(parse_trace(path), home)
        if any(c['name'] in RENAMES and c['ret'] == '0' and _under(c['targets'][-1] if c['targets'] else None, home)
               for c in calls):
            chosen = (trip, calls)
            break
    if chosen is None:
        raise SystemExit('no trip renamed anything into %s: the module does not write by rename?' % home)
    trip, calls = chosen
    per_pid = {}
    for call in calls:
        seq = per_pid.setdefault(call['pid'], [])
        call['ordinal'] = sum(1 for c in seq if c['name'] == call['name']) + 1
        call['pos'] = len(seq)
        seq.append(call)
    config = os.path.join(home, 'config.toml')
    auth = os.path.join(home, 'auth.json')

    def committed(upto_index):
        """Which files a kill on entering calls[upto_index] leaves new (renamed over) per trace."""
        done = {'config': False, 'auth': False}
        for call in calls[:upto_index]:
            if call['name'] in RENAMES and call['ret'] == '0' and len(call['targets']) > 1:
                target = call['targets'][-1]
                if target == config:
                    done['config'] = True
                elif target == auth:
                    done['auth'] = True
        return done

    # The files on disk only change at the changing calls, so a kill anywhere between two of them
    # leaves the same state: one point per gap (before the first change, between each two, after
    # the last). In each gap the kill goes on entering the next changing call itself when strace
    # can aim at it, else on the nearest call of the same process in the gap that it can aim at:
    # strace counts per process, so a count that another process also reaches could kill that
    # process instead.
    changes = [c for c in calls if c['change']]
    points, skipped = [], []
    for number in range(len(changes) + 1):
        previous = changes[number - 1] if number else None
        following = changes[number] if number < len(changes) else None
        anchor = following or previous
        seq = per_pid[anchor['pid']]
        low = previous['pos'] + 1 if previous is not None else 0
        high = following['pos'] if following is not None else len(seq) - 1
        if previous is not None and following is not None and previous['pid'] != following['pid']:
            low = 0
        candidates = seq[low:high + 1]
        if following is not None:
            candidates = list(reversed(candidates))  # prefer the call closest to the next change
        target = None
        for candidate in candidates:
            # any other process that makes this many calls of that name could take the kill,
            # before or after, depending on timing: aim only at counts no other process reaches
            rivals = [c for c in calls if c['pid'] != candidate['pid'] and c['name'] == candidate['name']
                      and c['ordinal'] == candidate['ordinal']]
            if not rivals:
                target = candidate
                break
        parts = []
        if previous is not None:
            parts.append('after ' + _describe(previous, home))
        if following is not None:
            parts.append('before ' + _describe(following, home))
        label = ' / '.join(parts)
        if target is None:
            skipped.append(label)
            continue
        point = {'label': label, 'syscall': target['name'], 'when': target['ordinal'], 'trip': trip,
                 'aim': '%s #%d' % (target['name'], target['ordinal']), 'expect': committed(target['index'])}
        points.append(point)
    for number, point in enumerate(points, 1):
        point['id'] = 'k%02d' % number
    return {'trip': trip, 'points': points, 'skipped': skipped,
            'write_calls': sum(1 for c in calls if c['change'])}


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def inspect(home, keys):
    """State of one Codex home. Reports hashes, parse results, modes and owners, never content."""
    import tomllib
    out = {'home': home, 'names': sorted(os.listdir(home)) if os.path.isdir(home) else None, 'files': {}}
    for name in out['names'] or []:
        path = os.path.join(home, name)
        lst = os.lstat(path)
        entry = {'link': stat.S_ISLNK(lst.st_mode)}
        try:
            st = os.stat(path)
        except OSError as exc:
            entry['error'] = exc.strerror
            out['files'][name] = entry
            continue
        entry.update(mode='%04o' % stat.S_IMODE(st.st_mode), uid=st.st_uid, gid=st.st_gid,
                     regular=stat.S_ISREG(st.st_mode))
        if entry['regular']:
            with open(path, 'rb') as handle:
                data = handle.read()
            entry['sha256'] = _sha(data)
            entry['size'] = len(data)
            entry['holds_key'] = any(key and key in data for key in keys)
            if name == 'config.toml':
                try:
                    entry['data'] = json.loads(json.dumps(tomllib.loads(data.decode('utf-8')), default=str))
                    entry['parses'] = True
                except (ValueError, UnicodeDecodeError) as exc:
                    entry['parses'], entry['parse_error'] = False, str(exc)[:200]
            elif name == 'auth.json':
                try:
                    obj = json.loads(data.decode('utf-8'))
                    entry['parses'] = isinstance(obj, dict)
                    key = obj.get('OPENAI_API_KEY') if isinstance(obj, dict) else None
                    entry['key_sha256'] = _sha(key.encode('utf-8')) if isinstance(key, str) else None
                    entry['auth_mode'] = obj.get('auth_mode') if isinstance(obj, dict) else None
                except (ValueError, UnicodeDecodeError) as exc:
                    entry['parses'], entry['parse_error'] = False, str(exc)[:200]
        out['files'][name] = entry
    return out


def read_keys(keydir):
    keys = []
    for name in sorted(os.listdir(keydir)):
        with open(os.path.join(keydir, name), 'rb') as handle:
            keys.append(handle.read().strip())
    return keys


# ------------------------------------------------------------------------------------- judging

def _by_case(results):
    return {r['item']['case']: r for r in results}


def judge_kills(data):
    plan_, old, new, twin = data['plan'], data['old'], data['new'], data['twin_names']
    owner_uid = data['owner_uid']
    killed_runs, first_runs, second_runs = (_by_case(data[k]) for k in ('kill_runs', 'recover1', 'recover2'))
    problems, rows, unreported = [], [], set()
    by_point = {}
    counts = {'kills_planned': 0, 'kills_landed': 0, 'runs': 0, 'states': {}}
    points = {p['id']: p for p in plan_['points']}
    for spec in data['cases']:
        name, point = spec['case'], points[spec['point']]
        home = '%s/%s/.codex' % (data['root'], name)
        mark = data['killed'][name]
        counts['kills_planned'] += 1
        counts['runs'] += 3  # the killed run and two recovery runs
        fail = []
        if not mark['killed']:
            fail.append('the process was not killed (point not reached; strace rc %s)' % mark['strace_rc'])
        else:
            counts['kills_landed'] += 1
        if not killed_runs[name].get('failed'):
            fail.append('the killed task did not fail')
        after_state = data['after'][home]
        after = after_state['files']
        seen = {}
        for fname, key in (('config.toml', 'config'), ('auth.json', 'auth')):
            entry = after.get(fname)
            if entry is None:
                fail.append('%s missing after the kill' % fname)
                continue
            if not entry.get('parses'):
                fail.append('%s does not parse after the kill: %s' % (fname, entry.get('parse_error')))
            if entry.get('sha256') == old[key]:
                seen[key] = 'old'
            elif entry.get('sha256') == new[key]:
                seen[key] = 'new'
            else:
                seen[key] = 'OTHER'
                fail.append('%s is neither the old nor the new file after the kill' % fname)
            expected = 'new' if point['expect'][key] else 'old'
            if mark['killed'] and seen[key] != 'OTHER' and seen[key] != expected:
                fail.append('%s is %s after a kill %s (the trace says %s)' % (fname, seen[key], point['label'], expected))
        auth = after.get('auth.json') or {}
        if auth and (int(auth['mode'], 8) & 0o077 or auth['uid'] != owner_uid):
            fail.append('auth.json is mode %s uid %s after the kill' % (auth['mode'], auth['uid']))
        leftovers = sorted(set(after_state['names']) - set(twin))
        for fname in leftovers:
            entry = after[fname]
            if entry.get('holds_key') and (int(entry['mode'], 8) & 0o077 or entry['uid'] not in (owner_uid, 0)):
                fail.append('leftover %s holds a key and is mode %s uid %s' % (fname, entry['mode'], entry['uid']))
        if 'new' in seen.values() and not killed_runs[name].get('changed'):
            unreported.add(point['id'])
        state = 'config=%s auth=%s leftovers=%d' % (seen.get('config'), seen.get('auth'), len(leftovers))
        counts['states'][state] = counts['states'].get(state, 0) + 1
        first, second = first_runs[name], second_runs[name]
        must_change = seen.get('config') != 'new' or seen.get('auth') != 'new'
        if first.get('failed'):
            fail.append('the next run failed: %s' % first.get('msg'))
        elif bool(first.get('changed')) != must_change:
            fail.append('the next run reported changed=%s, expected %s' % (first.get('changed'), must_change))
        if second.get('failed') or second.get('changed'):
            fail.append('the run after that did not converge (failed=%s changed=%s: %s)'
                        % (second.get('failed'), second.get('changed'), second.get('msg', '')))
        final = data['final'][home]
        for fname, key in (('config.toml', 'config'), ('auth.json', 'auth')):
            if (final['files'].get(fname) or {}).get('sha256') != new[key]:
                fail.append('%s is not the new file after the recovery runs' % fname)
        extra = sorted(set(final['names']) - set(twin))
        if extra:
            fail.append('left after the recovery runs: %s' % ', '.join(extra))
        entry = by_point.setdefault(point['id'], {'label': point['label'], 'aim': point['aim'], 'runs': 0, 'ok': 0,
                                                  'states': set(), 'problems': []})
        entry['runs'] += 1
        entry['states'].add(state)
        if fail:
            entry['problems'].extend('%s: %s' % (name, f) for f in fail)
            problems.extend('%s (%s): %s' % (name, point['label'], f) for f in fail)
        else:
            entry['ok'] += 1
    for pid in sorted(by_point):
        entry = by_point[pid]
        rows.append('%s [%s] %s: %d/%d held; after the kill: %s' % (
            pid, entry['aim'], entry['label'], entry['ok'], entry['runs'], '; '.join(sorted(entry['states']))))
    bad_points = sum(1 for e in by_point.values() if e['problems'])
    lines = ['kill points of the write trip (trip %d, %d changing calls seen in the clean trace):'
             % (plan_['trip'], plan_['write_calls'])] + rows
    if plan_['skipped']:
        lines.append('gaps not aimed at (every call there is one that another process makes as often): %s' % ', '.join(plan_['skipped']))
    lines.append('KILLS: %d planned, %d landed (SIGKILL seen), %d points x %d repetitions, %d task runs '
                 '(each kill + 2 recovery runs); %d points held every time, %d points failed, %d problems'
                 % (counts['kills_planned'], counts['kills_landed'], len(by_point), data['repetitions'],
                    counts['runs'], len(by_point) - bad_points, bad_points, len(problems)))
    if unreported:
        # not a failure here: the module cannot know what its killed worker finished
        lines.append('NOTE: at %s a file was already replaced when the process died, but the killed task '
                     'reported changed=false' % ', '.join(sorted(unreported)))
    lines.append('states right after the kill: ' + ', '.join('%s x%d' % kv for kv in sorted(counts['states'].items())))
    return lines, problems


CLEAR_LOSS = re.compile(r'changed on the host|another run|concurren|lock|timed out|timeout|busy', re.I)


def judge_race(data):
    problems = []
    keys = data['keys']  # index -> sha256 of the key
    final = data['final']['files']
    config, auth = final.get('config.toml') or {}, final.get('auth.json') or {}
    if not config.get('parses'):
        problems.append('config.toml does not parse: %s' % config.get('parse_error'))
    if not auth.get('parses'):
        problems.append('auth.json does not parse: %s' % auth.get('parse_error'))
    if auth and (int(auth['mode'], 8) & 0o077 or auth['uid'] != data['owner_uid']):
        problems.append('auth.json is mode %s uid %s' % (auth.get('mode'), auth.get('uid')))
    key_winner = [i for i, sha in keys.items() if sha == auth.get('key_sha256')]
    if not key_winner:
        problems.append('the stored key is none of the %d keys' % len(keys))
    cfg = config.get('data') or {}
    model = cfg.get('model')
    model_winner = [i for i, m in data['models'].items() if m == model]
    if not model_winner:
        problems.append('config.toml model %r is none of the %d runs\' settings' % (model, len(keys)))
    for dotted, value in data['keep'].items():
        node = cfg
        for part in dotted.split('.'):
            node = node.get(part) if isinstance(node, dict) else None
        if node != value:
            problems.append('unrelated key %s was lost or changed (%r)' % (dotted, node))
    extra = sorted(set(data['final']['names']) - set(data['twin_names']))
    if extra:
        problems.append('left in the home: %s' % ', '.join(extra))
    ok, lost, failed_runs = [], [], []
    for index, result in sorted(data['results'].items(), key=lambda kv: int(kv[0])):
        if result.get('failed'):
            msg = result.get('msg') or ''
            failed_runs.append(index)
            if not CLEAR_LOSS.search(msg) or data['home'] not in msg:
                problems.append('run %s failed without a clear concurrency message naming the file: %s'
                                % (index, msg[:300]))
            if result.get('changed'):
                problems.append('run %s failed but reported changed=true' % index)
            lost.append(index)
        else:
            ok.append(index)
    if key_winner and key_winner[0] not in ok:
        problems.append('the stored key belongs to run %s, which did not succeed' % key_winner[0])
    if key_winner and model_winner and key_winner[0] not in model_winner:
        problems.append('config.toml comes from run %s but auth.json from run %s (a mix of two runs)'
                        % (model_winner, key_winner[0]))
    lines = ['RACE: %d concurrent runs on one home: %d succeeded, %d failed; final key from run %s, settings from '
             'run %s; files valid=%s; %d problems'
             % (len(data['results']), len(ok), len(lost), ','.join(key_winner) or '-', ','.join(model_winner) or '-',
                bool(config.get('parses') and auth.get('parses')), len(problems))]
    messages = sorted({(data['results'][i].get('msg') or '').replace(data['home'], 'HOME')[:160] for i in lost})
    lines.extend('  loser message: %s' % m for m in messages)
    return lines, problems


def setup_cases(root, template, owner, spec):
    """Fresh copies of the template home, one per case, each with its control line for the wrapper."""
    import pwd
    import shutil
    user = pwd.getpwnam(owner)
    for case in spec:
        home = os.path.join(root, case['case'], '.codex')
        shutil.rmtree(os.path.join(root, case['case']), ignore_errors=True)
        shutil.copytree(template, home, symlinks=True)
        for base, dirs, files in os.walk(os.path.join(root, case['case'])):
            for name in [base] + [os.path.join(base, n) for n in dirs + files]:
                os.lchown(name, user.pw_uid, user.pw_gid)
        for suffix in ('.trips', '.strace', '.rc'):
            try:
                os.unlink(os.path.join(STATE, 'run', case['case'] + suffix))
            except FileNotFoundError:
                pass
        control = os.path.join(STATE, 'control', case['case'])
        if case.get('control'):
            with open(control, 'w') as handle:
                handle.write(case['control'] + '\n')
        elif os.path.exists(control):
            os.unlink(control)


def killed(cases):
    """Per case: did the injected SIGKILL land (strace saw a process killed), and strace's status."""
    out = {}
    for case in cases:
        log = os.path.join(STATE, 'run', case + '.strace')
        text = open(log, errors='replace').read() if os.path.exists(log) else ''
        rc_file = os.path.join(STATE, 'run', case + '.rc')
        out[case] = {'killed': 'killed by SIGKILL' in text,
                     'strace_rc': open(rc_file).read().strip() if os.path.exists(rc_file) else None}
    return out


def main(argv):
    command = argv[1]
    if command == 'setup-cases':
        setup_cases(argv[2], argv[3], argv[4], json.load(sys.stdin))
    elif command == 'setup-kills':
        plan_ = json.load(sys.stdin)
        cases = [{'case': '%sr%d' % (point['id'], rep), 'point': point['id'], 'label': point['label'],
                  'control': '%s %d %d' % (point['syscall'], point['when'], point['trip'])}
                 for point in plan_['points'] for rep in range(1, int(argv[5]) + 1)]
        setup_cases(argv[2], argv[3], argv[4], cases)
        print(json.dumps(cases))
    elif command == 'killed':
        print(json.dumps(killed(argv[2:])))
    elif command == 'plan':
        print(json.dumps(plan(argv[2], argv[3:])))
    elif command == 'state':
        keys = read_keys(argv[2])
        print(json.dumps({home: inspect(home, keys) for home in argv[3:]}))
    elif command in ('judge-kills', 'judge-race'):
        with open(argv[2]) as handle:
            data = json.load(handle)
        lines, problems = (judge_kills if command == 'judge-kills' else judge_race)(data)
        report = '\n'.join(lines + ['PROBLEM: %s' % p for p in problems]) + '\n'
        with open(argv[2] + '.summary', 'w') as handle:
            handle.write(report)
        sys.stdout.write(report)
        return 1 if problems else 0
    else:
        raise SystemExit('unknown command %s' % command)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
