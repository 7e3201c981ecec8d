# -*- coding: utf-8 -*-
"""The PowerShell side applies each rule: read statically from _codex_config_windows.ps1.

test_windows_rules.py runs the rules (C#) themselves; this module checks that the PowerShell code
feeds them the facts it read through handles and acts on the answer, that all file system access
goes through the handle-based helpers, and that the native helpers open without following links.
It cannot prove the code runs (no PowerShell here); it fails when a rule is dropped or bypassed.
"""

from __future__ import annotations

import re

import pytest

from windows_ps1 import csharp_source, functions, mask, powershell_only, ps1_text

# PowerShell wrapper -> the C# call it must make (with the facts it must pass)
WRAPPERS = {
    'Get-CodexFingerprint': '[Bytes4096.Codex.P2.Rules]::Fingerprint($Key)',
    'Get-CodexPathRefusal': ('[Bytes4096.Codex.P2.Rules]::PathRefusal($Role, $Facts.Attributes, $Facts.ReparseTag, '
                             '$Facts.FileType,\n        $Facts.Links, $Security.owner, $Security.owner_name, $Who.sid, '
                             '$Who.runner_sid)'),
    'Get-CodexAclRepair': ('[Bytes4096.Codex.P2.Rules]::AclProblem($Role, $Security.protected, $Security.sids, '
                           '$Security.names,\n        $Security.types, $Security.masks, $Security.flags, $Who.sid)'),
    'Get-CodexLeftoverKind': '[Bytes4096.Codex.P2.Rules]::LeftoverKind($Name)',
    'Get-CodexTokensState': '[Bytes4096.Codex.P2.Auth]::TokensState($Auth)',
    'Get-CodexCredentials': '[Bytes4096.Codex.P2.Auth]::Credentials($Auth)',
    'Get-CodexPrivateDescriptor': '[Bytes4096.Codex.P2.Rules]::PrivateSddl($AccountSid, $Directory)',
    'ConvertFrom-CodexAuthBytes': '[Bytes4096.Codex.P2.Auth]::Read($Bytes)',
    'ConvertTo-CodexAuthBytes': '[Bytes4096.Codex.P2.Rules]::Utf8SurrogatePass($Text)',
}


@pytest.fixture(scope='module')
def fns():
    return functions(ps1_text())


@pytest.fixture(scope='module')
def code():
    return powershell_only(ps1_text())


@pytest.mark.parametrize('name', sorted(WRAPPERS))
def test_each_rule_has_its_powershell_function(fns, name):
    assert WRAPPERS[name] in fns[name]


def test_facts_come_from_the_handle(fns):
    entry = fns['Open-CodexEntry']
    order = ['[Bytes4096.Codex.P2.Native]::OpenAt($Dir, $Name, $Access, $false, $false, $Follow, $null)',
             '[Bytes4096.Codex.P2.Native]::Query($handle)', 'Get-CodexSecurity -Descriptor $facts.Security',
             'Get-CodexPathRefusal -Role $Role -Facts $facts -Security $security -Who $Who',
             'if ($null -ne $refusal) { throw "$Path $refusal" }']
    positions = [entry.index(step) for step in order]
    assert positions == sorted(positions)
    assert '$handle.Dispose()' in entry[entry.index('catch'):]


def test_the_walk_follows_only_an_administrators_link_above_the_home(fns):
    walk = fns['Open-CodexHome']
    assert walk.count('-Follow $true') == 1
    follow = walk.index('-Follow $true')
    check = walk.index("-Role 'ancestor'")
    assert check < follow
    assert '[Bytes4096.Codex.P2.Rules]::AttrReparsePoint' in walk[check:follow]
    assert "-Role 'home'" in walk and '-Follow' not in walk[walk.index("-Role 'home'"):]
    # the walk starts at the volume root and opens every component relative to its parent handle
    assert '[Bytes4096.Codex.P2.Native]::OpenAt($null, $Parts[1], 0' in walk
    assert 'Open-CodexEntry -Dir $dir' in walk
    code = mask(powershell_only())
    assert code.count('-Follow $true') == 1


def test_files_are_read_as_files_within_the_caps(fns, code):
    read = fns['Read-CodexFile']
    assert "-Role 'file'" in read
    assert read.index('$entry.facts.Size -gt $Cap') < read.index('[Bytes4096.Codex.P2.Native]::ReadAll($entry.handle, $Cap)')
    assert '$entry.handle.Dispose()' in read[read.index('finally'):]
    for match in re.finditer(r'Read-CodexFile -Walk \$walk -Name (\S+) -Cap (\S+)', code):
        name, cap = match.groups()
        want = '$CodexMaxConfigBytes' if name == '$CodexConfigName' else '$CodexMaxAuthBytes'
        assert cap == want, match.group(0)


def test_native_opens_never_follow_and_never_wait_on_an_oplock():
    source = csharp_source()
    open_at = source[source.index('public static SafeFileHandle OpenAt'):source.index('public static Facts Query')]
    assert 'uint options = SynchronousIo | CompleteIfOplocked | (follow ? 0 : OpenReparsePoint);' in open_at
    assert 'if (status == StatusOplockBreakInProgress)' in open_at
    assert 'uint share = create && !directory ? 0 : (ShareRead | ShareWrite);' in open_at  # never share delete
    assert 'oa.RootDirectory = dir.DangerousGetHandle();' in open_at
    assert "name.IndexOfAny(new char[] { '\\\\', '/', ':' }) >= 0" in open_at  # one component, no stream
    assert 'create ? FileCreate : FileOpen' in open_at
    assert 'const uint ShareRead = 1, ShareWrite = 2;' in source and 'ShareDelete' not in source
    assert 'OpenReparsePoint = 0x200000' in source and 'CompleteIfOplocked = 0x100' in source


def test_one_atomic_writer_with_the_private_acl_at_creation(fns, code):
    writer = fns['Write-CodexAtomic']
    steps = ['Get-CodexPrivateDescriptor -AccountSid $Who.sid -Directory $false',
             '[Bytes4096.Codex.P2.Native]::OpenAt($dir, $tempName, $access, $true, $false, $false, $descriptor)',
             '[Bytes4096.Codex.P2.Native]::WriteAll($handle, $Bytes)',
             '[Bytes4096.Codex.P2.Native]::RenameAt($handle, $dir, $Name, $Replace)']
    positions = [writer.index(step) for step in steps]
    assert positions == sorted(positions)
    assert 'if (-not $renamed) { [Bytes4096.Codex.P2.Native]::DeleteByHandle($handle) }' in writer
    masked = mask(code)
    assert masked.count('::WriteAll(') == 1 and masked.count('::RenameAt(') == 1
    # config.toml, auth.json, backups and ACL repairs all go through it
    # new content and ACL repairs of both files; key backups repaired by name
    assert len(re.findall(r'Write-CodexAtomic -Walk \$walk -Name \$Codex(?:Config|Auth)Name', code)) == 4
    assert 'Write-CodexAtomic -Walk $walk -Name $name -Bytes $backup.bytes' in code
    backup = fns['New-CodexBackup']
    assert 'Write-CodexAtomic -Walk $Walk -Name $backupName -Bytes $Bytes -Who $Who -Replace $false' in backup


def test_a_new_codex_home_gets_the_private_acl_when_it_is_created(fns):
    write = fns['Invoke-CodexWrite']
    create = write[write.index('if ($null -eq $walk.home) {'):write.index('Enter-CodexLock')]
    assert 'Get-CodexPrivateDescriptor -AccountSid $who.sid -Directory $true' in create
    assert '[Bytes4096.Codex.P2.Native]::OpenAt($walk.parent, $split[$split.Length - 1], $access, $true, $true, $false, $descriptor)' in create


def test_owners_are_never_changed(code):
    masked = mask(code)
    source = csharp_source()
    for word in ('SetOwner', 'Set-Acl', 'SetAccessControl', 'SetSecurityInfo', 'SetNamedSecurityInfo', 'takeown', 'icacls'):
        assert word not in masked and word not in source
    assert 'const uint DaclProtected = 0x4 | 0x80000000;' in source  # DACL only, never OWNER_SECURITY_INFORMATION
    assert source.count('SetKernelObjectSecurity(handle, DaclProtected, descriptor)') == 1
    sddl = source[source.index('public static string PrivateSddl'):]
    assert '"D:P(A;' in sddl and '"O:' not in sddl


def test_no_path_based_file_access(code):
    masked = mask(code)
    for word in ('[System.IO.File]', '[System.IO.Directory]', '[System.IO.FileInfo]', 'Get-Item ', 'Get-ChildItem',
                 'Remove-Item', 'New-Item', 'Move-Item', 'Copy-Item', 'Rename-Item', 'Get-Content', 'Set-Content',
                 'Resolve-Path', 'Get-Acl', 'Set-Acl', 'Join-Path', 'Split-Path', 'Test-Path', 'Get-ItemProperty'):
        for match in re.finditer(re.escape(word), masked):
            line = code[code.rfind('\n', 0, match.start()) + 1:code.find('\n', match.start())]
            assert 'HKLM:' in line or '$profileKey' in line, line  # the profile list in the registry only
    source = csharp_source()
    for word in (r'\bFile\.', r'\bDirectory\.', r'\bFileStream\b', r'\bFileInfo\b', 'CreateFileW', 'MoveFile',
                 r'\bDeleteFile\('):
        assert not re.search(word, source), word


def test_the_lock_wait_is_bounded_by_lock_timeout(fns):
    lock = fns['Enter-CodexLock']
    assert '$mutex.WaitOne([System.TimeSpan]::FromSeconds([System.Math]::Max(0, $TimeoutSeconds)))' in lock
    assert 'lock_timeout=$TimeoutSeconds s; nothing was written' in lock
    write = fns['Invoke-CodexWrite']
    locked = write.index('Enter-CodexLock -HomePath $walk.path -TimeoutSeconds $WriteRequest.lock_timeout')
    assert locked < write.index('Read-CodexFile')
    assert '$mutex.ReleaseMutex()' in write[write.index('finally'):]


def test_config_is_written_only_over_what_the_plan_saw(fns):
    write = fns['Invoke-CodexWrite']
    assert 'elseif ($currentSha -ne $configReq.expect_sha256) {' in write
    assert 'changed on the host while this task ran (another run?); nothing was written' in write


def test_offboarding_removes_key_backups_and_never_makes_one(fns):
    write = fns['Invoke-CodexWrite']
    assert "if ($WriteRequest.state -eq 'absent') { $authBackup = $false }" in write
    purge = write[write.index('# 4. key backups'):write.index('# 5. what is on disk now')]
    assert "(Get-CodexLeftoverKind -Name $name) -ne 'auth_backup'" in purge
    assert 'if ($WriteRequest.purge_key_backups) {' in purge and 'Remove-CodexEntry -Walk $walk -Name $name' in purge
    temps = write[write.index('# 2. temp files'):write.index('# 3. config.toml')]
    assert "(Get-CodexLeftoverKind -Name $name) -eq 'temp'" in temps and 'Remove-CodexEntry' in temps
    remove = fns['Remove-CodexEntry']
    # opened without following: a link named like a backup is removed itself, its target never touched
    assert ('[Bytes4096.Codex.P2.Native]::OpenAt($Walk.home.handle, $Name, [Bytes4096.Codex.P2.Native]::Delete, '
            '$false, $false, $false, $null)') in remove
    assert '[Bytes4096.Codex.P2.Native]::DeleteByHandle($handle)' in remove


def test_refusals_name_the_path(fns):
    assert 'throw "$Path $refusal"' in fns['Open-CodexEntry']
    assert 'throw "$path is larger than $Cap bytes; it is not read"' in fns['Read-CodexFile']
    assert 'throw "codex_home $path`: \'$($split[$i])\' $problem"' in fns['Resolve-CodexHomePath']


def test_posix_options_are_refused(fns):
    for name, var in (('Invoke-CodexRead', '$ReadRequest'), ('Invoke-CodexWrite', '$WriteRequest')):
        body = fns[name]
        assert "if ($null -ne %s.group) { throw 'group is a POSIX option" % var in body
        assert "if ($null -ne %s.config_mode) { throw 'config_mode is a POSIX option" % var in body


def test_the_write_trip_takes_a_resolved_path_only(fns):
    write = fns['Invoke-CodexWrite']
    assert '$split = [Bytes4096.Codex.P2.Rules]::SplitAbsolute($WriteRequest.codex_home)' in write
    assert "if ($null -eq $split) { throw 'write_request.codex_home must be the resolved absolute path' }" in write


def test_the_native_code_is_loaded_once_per_version():
    code = powershell_only()
    assert "if (-not ('Bytes4096.Codex.P2.Rules' -as [type])) {" in code
    assert 'namespace Bytes4096.Codex.P2' in csharp_source()


def test_the_fingerprint_is_the_shared_one_without_mono():
    """Read from the source (test_windows_rules.py runs it against the shared vectors when Mono is
    there): sha256: + the first 8 bytes of SHA-256 in lowercase hex, over the UTF-8 bytes of the key
    as stored, nothing stripped or normalised (issue 10, finding 6)."""
    source = csharp_source()
    body = source[source.index('public static string Fingerprint(string key)'):source.index('public static byte[] Utf8SurrogatePass')]
    assert 'if (string.IsNullOrEmpty(key)) { return null; }' in body
    assert 'SHA256.Create()' in body and 'sha.ComputeHash(Utf8SurrogatePass(key))' in body
    assert 'new StringBuilder("sha256:")' in body and 'i < 8' in body and 'ToString("x2")' in body
    for word in ('Trim', 'Normalize', 'ToLower', 'ToUpper', 'Replace'):
        assert word not in body, word
    assert fns_body('Get-CodexFingerprint').count('[Bytes4096.Codex.P2.Rules]::Fingerprint($Key)') == 1
    # every fingerprint the script reports comes from that one function
    code = mask(powershell_only())
    assert code.count('::Fingerprint(') == 1
    assert 'SHA256' not in code.replace('[System.Security.Cryptography.SHA256]::Create()', '')


def fns_body(name):
    return functions(ps1_text())[name]


def test_no_null_reaches_a_dotnet_string_parameter_as_an_empty_string(fns):
    """PowerShell passes $null to a .NET string parameter as ''; an unset codex_home must reach the
    default, not the refusal of ''."""
    body = fns['Resolve-CodexHomePath']
    guard = body.index('if ($null -ne $Raw) {')
    assert guard < body.index('::HomeRefusal($Raw)') and guard < body.index('::SplitTilde($Raw)')
    assert body.index('::HomeRefusal($Raw)') < body.index('}', body.index('::SplitTilde($Raw)'))
