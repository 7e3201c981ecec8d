# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Windows side of bytes4096.codex.codex_config. The action plugin sends this script through
# ansible.windows.win_powershell (one execution per phase, like the Python module on POSIX hosts):
# the same internal read/write protocol as plugins/modules/codex_config.py, the request as JSON and
# the key as a SecureString sensitive parameter (no_log). NOT EXECUTED in this collection's CI
# (PowerShell cannot be installed there); the controller side of this path is unit tested.
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)][ValidateSet('read', 'write')][string]$Phase,
    [Parameter(Mandatory = $true)][string]$RequestJson,
    [SecureString]$Secret
)
$ErrorActionPreference = 'Stop'
$utf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false, $true

Function Get-Sha256Hex([byte[]]$Bytes) {
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try { return ([System.BitConverter]::ToString($sha.ComputeHash($Bytes)) -replace '-', '').ToLowerInvariant() }
    finally { $sha.Dispose() }
}

Function Get-KeyFingerprint([string]$Key) {
    if ([string]::IsNullOrEmpty($Key)) { return $null }
    return 'sha256:' + (Get-Sha256Hex -Bytes ([System.Text.Encoding]::UTF8.GetBytes($Key))).Substring(0, 16)
}

Function Resolve-UserHome([string]$Owner) {
    if (-not $Owner) { return $env:USERPROFILE }
    try {
        $sid = (New-Object System.Security.Principal.NTAccount($Owner)).Translate([System.Security.Principal.SecurityIdentifier]).Value
    }
    catch { throw "owner '$Owner' does not exist on the host" }
    $profileKey = "HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\$sid"
    if (-not (Test-Path -LiteralPath $profileKey)) { throw "owner '$Owner' has no user profile on the host yet" }
    return (Get-ItemProperty -LiteralPath $profileKey).ProfileImagePath
}

Function Resolve-CodexHome([string]$Raw, [string]$Owner) {
    $userHome = Resolve-UserHome -Owner $Owner
    if (-not $Raw) { return (Join-Path $userHome '.codex') }
    if ($Raw -eq '~') { return $userHome }
    if ($Raw.StartsWith('~\') -or $Raw.StartsWith('~/')) { return (Join-Path $userHome $Raw.Substring(2)) }
    return [System.Environment]::ExpandEnvironmentVariables($Raw)
}

Function Get-RealPath([string]$Path) {
    $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
    if ($item -and ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) -and $item.Target) {
        $target = @($item.Target)[0]
        if (-not [System.IO.Path]::IsPathRooted($target)) { $target = Join-Path (Split-Path -Parent $Path) $target }
        return $target
    }
    return $Path
}

Function Get-FileState([string]$Path) {
    $item = Get-Item -LiteralPath $Path -Force -ErrorAction SilentlyContinue
    $isLink = [bool]($item -and ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint))
    $real = Get-RealPath -Path $Path
    $state = @{ path = $Path; exists = $false; is_link = $isLink; real_path = $real }
    if (Test-Path -LiteralPath $real -PathType Leaf) { $state.exists = $true }
    return $state
}

Function Test-PrivateAcl([string]$Path, [string]$Owner) {
    $acl = Get-Acl -LiteralPath $Path
    if (-not $acl.AreAccessRulesProtected) { return $false }
    $allowed = @('NT AUTHORITY\SYSTEM', 'BUILTIN\Administrators')
    if ($Owner) { $allowed += (New-Object System.Security.Principal.NTAccount($Owner)).Translate([System.Security.Principal.SecurityIdentifier]).Translate([System.Security.Principal.NTAccount]).Value }
    else { $allowed += [System.Security.Principal.WindowsIdentity]::GetCurrent().Name }
    foreach ($rule in $acl.Access) {
        if ($allowed -notcontains $rule.IdentityReference.Value) { return $false }
    }
    return $true
}

Function Set-PrivateAcl([string]$Path, [string]$Owner, [bool]$Directory) {
    $acl = Get-Acl -LiteralPath $Path
    $acl.SetAccessRuleProtection($true, $false)
    foreach ($rule in @($acl.Access)) { [void]$acl.RemoveAccessRule($rule) }
    $who = if ($Owner) { $Owner } else { [System.Security.Principal.WindowsIdentity]::GetCurrent().Name }
    $inherit = if ($Directory) { 'ContainerInherit, ObjectInherit' } else { 'None' }
    foreach ($identity in @($who, 'NT AUTHORITY\SYSTEM', 'BUILTIN\Administrators')) {
        $acl.AddAccessRule((New-Object System.Security.AccessControl.FileSystemAccessRule($identity, 'FullControl', $inherit, 'None', 'Allow')))
    }
    if ($Owner) { $acl.SetOwner((New-Object System.Security.Principal.NTAccount($Owner))) }
    Set-Acl -LiteralPath $Path -AclObject $acl
}

Function ConvertFrom-AuthBytes([byte[]]$Bytes) {
    # Returns @{ obj = ordered hashtable or $null; error = $null or @{msg; line; column} }
    try { $text = $utf8.GetString($Bytes) }
    catch { return @{ obj = $null; error = @{ msg = 'not valid UTF-8'; line = $null; column = $null } } }
    $text = $text.TrimStart([char]0xFEFF)
    try { $parsed = $text | ConvertFrom-Json -ErrorAction Stop }
    catch {
        # Windows PowerShell's parser gives no position; report the message only (never the content)
        return @{ obj = $null; error = @{ msg = 'invalid JSON'; line = $null; column = $null } }
    }
    if ($parsed -isnot [System.Management.Automation.PSCustomObject]) {
        return @{ obj = $null; error = @{ msg = 'invalid auth.json: the top level must be a JSON object'; line = 1; column = 1 } }
    }
    $obj = [ordered]@{}
    foreach ($property in $parsed.PSObject.Properties) { $obj[$property.Name] = $property.Value }
    return @{ obj = $obj; error = $null }
}

Function Invoke-ReadPhase($Request) {
    $homePath = Resolve-CodexHome -Raw $Request.home -Owner $Request.owner
    $result = @{ user = @{ name = $Request.owner }; group_gid = $null; home = @{ path = $homePath } }
    if (Test-Path -LiteralPath $homePath -PathType Container) { $result.home.exists = $true }
    elseif (Test-Path -LiteralPath $homePath) { throw "codex_home $homePath exists but is not a directory" }
    else {
        $result.home.exists = $false
        $result.home.parent_exists = Test-Path -LiteralPath (Split-Path -Parent $homePath) -PathType Container
    }
    $config = Get-FileState -Path (Join-Path $homePath 'config.toml')
    if ($config.exists) {
        $bytes = [System.IO.File]::ReadAllBytes($config.real_path)
        $config.sha256 = Get-Sha256Hex -Bytes $bytes
        try { $config.text = $utf8.GetString($bytes) }
        catch { $config.error = @{ msg = 'not valid UTF-8'; line = $null; column = $null } }
    }
    $result.config = $config
    $auth = Get-FileState -Path (Join-Path $homePath 'auth.json')
    if ($auth.exists) {
        $bytes = [System.IO.File]::ReadAllBytes($auth.real_path)
        $auth.sha256 = Get-Sha256Hex -Bytes $bytes
        $parsed = ConvertFrom-AuthBytes -Bytes $bytes
        $auth.valid = $null -eq $parsed.error
        if ($parsed.error) { $auth.error = $parsed.error }
        else {
            $key = $parsed.obj['OPENAI_API_KEY']
            $auth.fields = @($parsed.obj.Keys | Where-Object { $_ -ne 'OPENAI_API_KEY' } | Sort-Object)
            $auth.auth_mode = if ($parsed.obj['auth_mode'] -is [string]) { $parsed.obj['auth_mode'] } else { $null }
            $auth.key_present = ($key -is [string]) -and ($key -ne '')
            $auth.key_fingerprint = if ($auth.key_present) { Get-KeyFingerprint -Key $key } else { $null }
            $auth.private = Test-PrivateAcl -Path $auth.real_path -Owner $Request.owner
        }
    }
    $result.auth = $auth
    return $result
}

Function Write-Atomic([string]$Path, [byte[]]$Bytes, [string]$Owner, [bool]$Private) {
    $real = Get-RealPath -Path $Path
    $dir = Split-Path -Parent $real
    $tmp = Join-Path $dir ('.' + (Split-Path -Leaf $real) + '.' + [System.Guid]::NewGuid().ToString('N') + '.tmp')
    try {
        # the empty temp file gets its private ACL before any byte of a secret is written
        [System.IO.File]::WriteAllBytes($tmp, [byte[]]@())
        if ($Private -or $Owner) { Set-PrivateAcl -Path $tmp -Owner $Owner -Directory $false }
        $stream = New-Object System.IO.FileStream($tmp, [System.IO.FileMode]::Truncate, [System.IO.FileAccess]::Write)
        try { $stream.Write($Bytes, 0, $Bytes.Length); $stream.Flush($true) } finally { $stream.Dispose() }
        if (Test-Path -LiteralPath $real) { [System.IO.File]::Replace($tmp, $real, [NullString]::Value) }
        else { [System.IO.File]::Move($tmp, $real) }
    }
    finally { if (Test-Path -LiteralPath $tmp) { Remove-Item -LiteralPath $tmp -Force } }
}

Function New-Backup([string]$Path, [bool]$Private, [string]$Owner) {
    $real = Get-RealPath -Path $Path
    $target = '{0}.{1}~' -f $real, (Get-Date -Format 'yyyy-MM-dd@HH-mm-ss')
    Write-Atomic -Path $target -Bytes ([System.IO.File]::ReadAllBytes($real)) -Owner $Owner -Private $Private
    return $target
}

Function Invoke-WritePhase($Request, [string]$Secret) {
    $homePath = $Request.home
    $result = @{ config = @{ changed = $false }; auth = @{ changed = $false }; home_created = $false }
    if ($Request.create_home -and -not (Test-Path -LiteralPath $homePath -PathType Container)) {
        New-Item -Path $homePath -ItemType Directory -Force | Out-Null
        Set-PrivateAcl -Path $homePath -Owner $Request.create_home.owner -Directory $true
        $result.home_created = $true
    }
    $sha = Get-Sha256Hex -Bytes $utf8.GetBytes($homePath.ToLowerInvariant())
    $mutex = New-Object System.Threading.Mutex($false, 'Global\bytes4096-codex-' + $sha.Substring(0, 32))
    [void]$mutex.WaitOne()
    try {
        $configPath = Join-Path $homePath 'config.toml'
        $authPath = Join-Path $homePath 'auth.json'
        $configReq = $Request.config
        $authReq = $Request.auth
        # 1. re-read and decide everything under the lock before writing anything
        $configWrite = $null
        if ($null -ne $configReq.text) {
            $realConfig = Get-RealPath -Path $configPath
            $current = if (Test-Path -LiteralPath $realConfig -PathType Leaf) { [System.IO.File]::ReadAllBytes($realConfig) } else { $null }
            $new = $utf8.GetBytes($configReq.text)
            $currentHash = if ($null -eq $current) { $null } else { Get-Sha256Hex -Bytes $current }
            if ($currentHash -eq (Get-Sha256Hex -Bytes $new)) { }
            elseif ($currentHash -ne $configReq.expect_sha256) {
                throw "$configPath changed on the host while this task ran (another run?); nothing was written, run the task again"
            }
            else { $configWrite = $new }
        }
        $authWrite = $null
        $op = $authReq.op
        if ($op -eq 'set' -or $op -eq 'remove') {
            $realAuth = Get-RealPath -Path $authPath
            $current = if (Test-Path -LiteralPath $realAuth -PathType Leaf) { [System.IO.File]::ReadAllBytes($realAuth) } else { $null }
            $parsed = if ($null -eq $current) { @{ obj = $null; error = $null } } else { ConvertFrom-AuthBytes -Bytes $current }
            if ($parsed.error -and -not $authReq.force) {
                throw "${authPath}: $($parsed.error.msg); nothing was written (force=true replaces it after a private backup)"
            }
            $obj = if ($parsed.obj) { $parsed.obj } else { [ordered]@{} }
            $stored = $obj['OPENAI_API_KEY']
            if ($op -eq 'remove' -and $authReq.only_fingerprint -and (Get-KeyFingerprint -Key $stored) -ne $authReq.only_fingerprint) { $op = $null }
            elseif ($op -eq 'set' -and $parsed.obj -and $stored -ceq $Secret -and $obj['auth_mode'] -eq 'apikey') { $op = $null }
            if ($op -eq 'set') {
                if ($obj['auth_mode'] -ne 'apikey') { $obj['auth_mode'] = 'apikey' }
                $obj['OPENAI_API_KEY'] = $Secret
                $authWrite = @{ bytes = $utf8.GetBytes(($obj | ConvertTo-Json -Depth 32) + "`n"); broken = [bool]$parsed.error }
            }
            elseif ($op -eq 'remove') {
                $obj.Remove('OPENAI_API_KEY')
                if ($obj['auth_mode'] -eq 'apikey') { $obj.Remove('auth_mode') }
                $bytes = if ($obj.Count -eq 0) { $null } else { $utf8.GetBytes(($obj | ConvertTo-Json -Depth 32) + "`n") }
                $authWrite = @{ bytes = $bytes; broken = [bool]$parsed.error; remove = $true }
            }
        }
        # 2. write config.toml, then auth.json
        if ($null -ne $configWrite) {
            if ($configReq.backup -and (Test-Path -LiteralPath (Get-RealPath -Path $configPath))) {
                $result.config.backup_file = New-Backup -Path $configPath -Private $false -Owner $configReq.owner
            }
            Write-Atomic -Path $configPath -Bytes $configWrite -Owner $configReq.owner -Private $false
            $result.config.changed = $true
        }
        if ($null -ne $authWrite) {
            if ((Test-Path -LiteralPath (Get-RealPath -Path $authPath)) -and ($authReq.backup -or $authWrite.broken)) {
                $result.auth.backup_file = New-Backup -Path $authPath -Private $true -Owner $authReq.owner
            }
            if ($null -eq $authWrite.bytes) { Remove-Item -LiteralPath (Get-RealPath -Path $authPath) -Force }
            else { Write-Atomic -Path $authPath -Bytes $authWrite.bytes -Owner $authReq.owner -Private $true }
            $result.auth.changed = $true
        }
        elseif ($authReq.attrs -and (Test-Path -LiteralPath $authPath)) {
            Set-PrivateAcl -Path (Get-RealPath -Path $authPath) -Owner $authReq.owner -Directory $false
            $result.auth.changed = $true
        }
        $result.auth.key_fingerprint = $null
        $realAuth = Get-RealPath -Path $authPath
        if (Test-Path -LiteralPath $realAuth -PathType Leaf) {
            $parsed = ConvertFrom-AuthBytes -Bytes ([System.IO.File]::ReadAllBytes($realAuth))
            if ($parsed.obj) { $result.auth.key_fingerprint = Get-KeyFingerprint -Key $parsed.obj['OPENAI_API_KEY'] }
        }
    }
    finally {
        $mutex.ReleaseMutex()
        $mutex.Dispose()
    }
    return $result
}

$request = ConvertFrom-Json -InputObject $RequestJson
try {
    if ($Phase -eq 'read') {
        $Ansible.Changed = $false
        $Ansible.Result = @{ state = Invoke-ReadPhase -Request $request }
    }
    else {
        if ($Ansible.CheckMode) { throw 'internal error: write phase requested in check mode' }
        $plain = $null
        if ($Secret) { $plain = [System.Net.NetworkCredential]::new('', $Secret).Password }
        $Ansible.Result = @{ written = Invoke-WritePhase -Request $request -Secret $plain }
        $Ansible.Changed = $true
    }
}
catch {
    $Ansible.Failed = $true
    $Ansible.Result = @{ msg = $_.Exception.Message }
}
