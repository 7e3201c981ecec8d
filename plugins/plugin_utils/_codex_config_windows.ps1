# Copyright: (c) 2025, bytes4096 platform team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# Windows host side of bytes4096.codex.codex_config, run by ansible.windows.win_powershell once per
# trip. It speaks the protocol of plugins/module_utils/_codex_protocol.py ($CodexSchema below is
# that schema, field for field; tests/unit/plugins/windows checks both agree). The key arrives
# only as the SecureString parameter Secret (a no_log sensitive parameter) and never leaves.
#
# Privilege model (the rules of the POSIX side): the run is usually an administrator working in
# an account's profile, and everything under that profile is the account's to shape.
# - No reparse point (symbolic link, junction, volume mount point, WSL special file) is followed
#   at or below the Codex home; each is refused with a message naming it. Junctions need no
#   privilege, Windows dotfile tools copy rather than link, and a link's target cannot be judged
#   and opened in one step, so no exception is made for links the account owns. Above the Codex
#   home a reparse point is followed only when an administrator (SYSTEM, TrustedInstaller) owns
#   it, and every directory on the way belongs to the account or an administrator.
# - Every name is opened relative to its directory's handle (NtCreateFile with a root directory
#   and FILE_OPEN_REPARSE_POINT: openat with O_NOFOLLOW) and checked through that handle. The
#   directories stay open without delete sharing, so none can be renamed or swapped mid-run.
# - Only single-link files on a local disk are read, up to the size caps; an opportunistic lock
#   held on a file fails the trip instead of stalling it. The lock wait honours lock_timeout.
# - New files and a new Codex home get a protected ACL (the account, SYSTEM, Administrators) in
#   the call that creates them. The owner of an existing object is never changed: an object owned
#   by anyone but the account or an administrator is refused, naming it and its owner.
# - One atomic writer for files and backups: a temp file created with that ACL in the same
#   directory, written and flushed, then renamed by handle over the name ([IO.File]::Replace is
#   not used: it copies the old file's ACL onto the new one). A loose ACL on a file is repaired by
#   the same writer (same bytes, new ACL); the Codex home's DACL is set through its handle.
# - Every decision (paths, ACLs, JSON, what Codex will read from auth.json, the fingerprint) is made
#   by the C# classes Rules, Auth and Json below, which the unit tests compile and run off Windows.
# SupportsShouldProcess: without it win_powershell skips the script in check mode, and the read
# trip must run in check mode (it changes nothing).
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory = $true)][ValidateSet('read', 'write')][string]$Phase,
    [Parameter(Mandatory = $true)][string]$RequestJson,
    [SecureString]$Secret
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$CodexProtocol = 2
$CodexMaxConfigBytes = 1048576
$CodexMaxAuthBytes = 262144
$CodexConfigName = 'config.toml'
$CodexAuthName = 'auth.json'
$CodexUtf8 = New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false, $true

# The protocol schema: message kind -> 'name:type:flags[:choice|choice]' (flags: r required,
# n nullable). Nested objects are kinds of their own ('write_request.config', 'leftovers[]').
$CodexSchema = @{
    'read_request' = @(
        'protocol:int:r', 'codex_home:str:n', 'owner:str:n', 'group:str:n', 'config_mode:str:n',
        'want_auth:bool:r'
    )
    'read_response' = @(
        'protocol:int:r', 'platform:str:r:posix|windows', 'access:str:r:account|root|self', 'euid:int:n',
        'account:dict:r', 'group_gid:int:n', 'home:dict:r', 'config:dict:r', 'auth:dict:n',
        'leftovers:list<dict>:r', 'loose_modes:list<dict>:r'
    )
    'read_response.account' = @('name:str:r', 'uid:int:n', 'gid:int:n', 'home:str:n', 'sid:str:n')
    'read_response.home' = @(
        'path:str:r', 'exists:bool:r', 'type:str:n:file|directory|other', 'is_link:bool:r',
        'link_target:str:n', 'real_path:str:n', 'mode:str:n', 'uid:int:n', 'gid:int:n', 'nlink:int:n',
        'owner:str:n', 'private:bool:n', 'parent_exists:bool:n', 'create_as:str:n:account|root'
    )
    'read_response.config' = @(
        'path:str:r', 'exists:bool:r', 'type:str:n:file|directory|other', 'is_link:bool:r',
        'link_target:str:n', 'real_path:str:n', 'mode:str:n', 'uid:int:n', 'gid:int:n', 'nlink:int:n',
        'owner:str:n', 'private:bool:n', 'size:int:n', 'sha256:str:n', 'text:str:n', 'error:dict:n'
    )
    'read_response.config.error' = @('msg:str:r', 'line:int:n', 'column:int:n')
    'read_response.auth' = @(
        'path:str:r', 'exists:bool:r', 'type:str:n:file|directory|other', 'is_link:bool:r',
        'link_target:str:n', 'real_path:str:n', 'mode:str:n', 'uid:int:n', 'gid:int:n', 'nlink:int:n',
        'owner:str:n', 'private:bool:n', 'size:int:n', 'sha256:str:n', 'valid:bool:n', 'error:dict:n',
        'fields:list<str>:n', 'auth_mode:str:n', 'key_present:bool:n', 'key_fingerprint:str:n',
        'tokens:str:n:absent|ok|unparseable', 'unreadable_fields:list<str>:n',
        'credentials:str:n:apikey|chatgpt|unreadable|none'
    )
    'read_response.auth.error' = @('msg:str:r', 'line:int:n', 'column:int:n')
    'read_response.leftovers[]' = @('name:str:r', 'kind:str:r:temp|auth_backup|config_backup', 'mode:str:n')
    'read_response.loose_modes[]' = @('path:str:r', 'mode:str:r', 'wanted:str:r')
    'write_request' = @(
        'protocol:int:r', 'codex_home:str:r', 'owner:str:n', 'group:str:n', 'state:str:r:present|absent',
        'lock_timeout:int:r', 'create_home:bool:r', 'config_mode:str:n', 'config:dict:r', 'auth:dict:n',
        'purge_key_backups:bool:r'
    )
    'write_request.config' = @('text:str:n', 'expect_sha256:str:n', 'backup:bool:r')
    'write_request.auth' = @(
        'op:str:n:set|remove', 'only_fingerprint:str:n', 'force:bool:r', 'backup:bool:r'
    )
    'write_response' = @(
        'protocol:int:r', 'access:str:r:account|root|self', 'home_created:bool:r', 'config:dict:r',
        'auth:dict:r', 'repaired:list<str>:r', 'removed_files:list<str>:r'
    )
    'write_response.config' = @('changed:bool:r', 'content_changed:bool:r', 'backup_file:str:n')
    'write_response.auth' = @(
        'changed:bool:r', 'content_changed:bool:r', 'backup_file:str:n', 'tokens_backed_up:bool:r',
        'dropped_fields:list<str>:n', 'exists:bool:n', 'key_fingerprint:str:n', 'auth_mode:str:n',
        'credentials:str:n:apikey|chatgpt|unreadable|none'
    )
}

# Native helpers and the pure rules, compiled once per process by Add-Type (C# 5, so Windows
# PowerShell 5.1 compiles it too). The unit tests compile and run the Rules class off Windows.
$CodexNativeSource = @'
using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Win32.SafeHandles;

namespace Bytes4096.Codex.P2
{
    // Pure decisions of the Windows host side: no I/O, so the unit tests compile and run them off Windows.
    public static class Rules
    {
        public const string SidSystem = "S-1-5-18";
        public const string SidAdministrators = "S-1-5-32-544";
        public const string SidTrustedInstaller = "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";

        public const uint AttrDirectory = 0x10;
        public const uint AttrReparsePoint = 0x400;
        public const int FileTypeDisk = 1;

        public const uint TagMountPoint = 0xA0000003;
        public const uint TagSymlink = 0xA000000C;
        public const uint TagAppExecLink = 0x8000001B;
        public const uint TagAfUnix = 0x80000023;
        public const uint TagLxSymlink = 0xA000001D;
        public const uint TagLxFifo = 0x80000024;
        public const uint TagLxChr = 0x80000025;
        public const uint TagLxBlk = 0x80000026;

        public const byte AceInheritOnly = 0x08;

        // sha256: + the first 16 hex digits of SHA-256 over the UTF-8 bytes of the key as stored
        // (nothing stripped); a lone surrogate is encoded like Python's "surrogatepass".
        public static string Fingerprint(string key)
        {
            if (string.IsNullOrEmpty(key)) { return null; }
            byte[] digest;
            using (SHA256 sha = SHA256.Create()) { digest = sha.ComputeHash(Utf8SurrogatePass(key)); }
            StringBuilder hex = new StringBuilder("sha256:");
            for (int i = 0; i < 8; i++) { hex.Append(digest[i].ToString("x2")); }
            return hex.ToString();
        }

        public static byte[] Utf8SurrogatePass(string text)
        {
            List<byte> bytes = new List<byte>(text.Length * 3);
            for (int i = 0; i < text.Length; i++)
            {
                int c = text[i];
                if (c >= 0xD800 && c <= 0xDBFF && i + 1 < text.Length && text[i + 1] >= 0xDC00 && text[i + 1] <= 0xDFFF)
                {
                    c = 0x10000 + ((c - 0xD800) << 10) + (text[i + 1] - 0xDC00);
                    i++;
                }
                if (c < 0x80) { bytes.Add((byte)c); }
                else if (c < 0x800) { bytes.Add((byte)(0xC0 | (c >> 6))); bytes.Add((byte)(0x80 | (c & 0x3F))); }
                else if (c < 0x10000)
                {
                    // a lone surrogate lands here too: three bytes, as surrogatepass does
                    bytes.Add((byte)(0xE0 | (c >> 12)));
                    bytes.Add((byte)(0x80 | ((c >> 6) & 0x3F)));
                    bytes.Add((byte)(0x80 | (c & 0x3F)));
                }
                else
                {
                    bytes.Add((byte)(0xF0 | (c >> 18)));
                    bytes.Add((byte)(0x80 | ((c >> 12) & 0x3F)));
                    bytes.Add((byte)(0x80 | ((c >> 6) & 0x3F)));
                    bytes.Add((byte)(0x80 | (c & 0x3F)));
                }
            }
            return bytes.ToArray();
        }

        // Offset of the first byte of the first invalid UTF-8 sequence (-1: valid), where Python's
        // decoder reports it; the POSIX side turns it into a line and column.
        public static int Utf8ErrorOffset(byte[] data)
        {
            int i = 0;
            while (i < data.Length)
            {
                int b = data[i];
                if (b < 0x80) { i++; continue; }
                int need = b >= 0xC2 && b <= 0xDF ? 1 : b >= 0xE0 && b <= 0xEF ? 2 : b >= 0xF0 && b <= 0xF4 ? 3 : 0;
                if (need == 0 || i + need >= data.Length) { return i; }
                for (int k = 1; k <= need; k++) { if ((data[i + k] & 0xC0) != 0x80) { return i; } }
                int second = data[i + 1];
                if ((b == 0xE0 && second < 0xA0) || (b == 0xED && second > 0x9F) || (b == 0xF0 && second < 0x90) || (b == 0xF4 && second > 0x8F)) { return i; }
                i += need + 1;
            }
            return -1;
        }

        // { line, column } (1-based; the column counts bytes) of the first invalid UTF-8 sequence, as
        // the POSIX side reports it; null when the bytes are valid.
        public static int[] Utf8ErrorLineColumn(byte[] data)
        {
            int bad = Utf8ErrorOffset(data);
            if (bad < 0) { return null; }
            int line = 1, lastNewline = -1;
            for (int i = 0; i < bad; i++) { if (data[i] == 10) { line++; lastNewline = i; } }
            return new int[] { line, bad - lastNewline };
        }

        // For the unit tests: Utf8ErrorLineColumn of bytes given as a Latin-1 string, as "line:column".
        public static string Utf8ErrorOfLatin1(string bytes)
        {
            byte[] data = new byte[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) { data[i] = (byte)bytes[i]; }
            int[] where = Utf8ErrorLineColumn(data);
            return where == null ? null : where[0] + ":" + where[1];
        }

        // For the unit tests: Utf8ErrorOffset of bytes given as a Latin-1 string.
        public static int Utf8ErrorOffsetOfLatin1(string bytes)
        {
            byte[] data = new byte[bytes.Length];
            for (int i = 0; i < bytes.Length; i++) { data[i] = (byte)bytes[i]; }
            return Utf8ErrorOffset(data);
        }

        public static string ReparseKind(uint tag)
        {
            switch (tag)
            {
                case TagSymlink: return "a symbolic link";
                case TagMountPoint: return "a junction or volume mount point";
                case TagAppExecLink: return "an app execution alias";
                case TagLxSymlink: return "a WSL symbolic link";
                case TagAfUnix: return "a Unix socket";
                case TagLxFifo: return "a WSL FIFO";
                case TagLxChr: return "a WSL character device";
                case TagLxBlk: return "a WSL block device";
                default: return "a reparse point (tag 0x" + tag.ToString("X8") + ")";
            }
        }

        public static bool OwnerTrusted(string ownerSid, string runnerSid)
        {
            return ownerSid == SidSystem || ownerSid == SidAdministrators || ownerSid == SidTrustedInstaller
                || (runnerSid != null && ownerSid == runnerSid);
        }

        // Why a path may not be used, or null. role: "ancestor" (a directory above the Codex home),
        // "home" (the Codex home), "file" (config.toml, auth.json). Reparse points are never followed
        // under the Codex home; above it, only one that an administrator owns (the account cannot
        // have made it).
        public static string PathRefusal(string role, uint attributes, uint reparseTag, int fileType,
                                         uint links, string ownerSid, string ownerName, string accountSid,
                                         string runnerSid)
        {
            bool trusted = OwnerTrusted(ownerSid, runnerSid);
            bool isAccount = accountSid != null && ownerSid == accountSid;
            if ((attributes & AttrReparsePoint) != 0 && !(role == "ancestor" && trusted))
            {
                return "is " + ReparseKind(reparseTag) + "; it is not followed (replace it with a real "
                    + (role == "file" ? "file" : "directory") + ", or point codex_home at the real location)";
            }
            if (fileType != FileTypeDisk)
            {
                return "is not a file on a local disk (file type " + fileType + ")";
            }
            if (role == "file" && (attributes & AttrDirectory) != 0) { return "is a directory, not a regular file"; }
            if (role != "file" && (attributes & AttrDirectory) == 0) { return "is not a directory"; }
            if (!trusted && !isAccount)
            {
                return "is owned by " + ownerName + ", neither the account nor an administrator; it is left as it is";
            }
            if (role == "file" && links > 1)
            {
                return "has " + links + " hard links; a file with other names may belong to someone else, it is left as it is";
            }
            return null;
        }

        // What is wrong with an ACL, or null. Everything under the Codex home is private: nothing is
        // granted to anyone but the account, SYSTEM and Administrators. The Codex home's DACL must
        // also be protected (else a change to the profile's ACL would reach it) and its inherit-only
        // entries count (they reach what is created in it); a file may inherit from the home.
        public static string AclProblem(string role, bool isProtected, string[] sids, string[] names, int[] types,
                                        uint[] masks, byte[] flags, string accountSid)
        {
            List<string> others = new List<string>();
            for (int i = 0; i < sids.Length; i++)
            {
                if (types[i] != 0 || masks[i] == 0) { continue; }  // only access-allowed entries grant anything
                if (role != "home" && (flags[i] & AceInheritOnly) != 0) { continue; }
                string sid = sids[i];
                if (sid == accountSid || sid == SidSystem || sid == SidAdministrators) { continue; }
                if (!others.Contains(names[i])) { others.Add(names[i]); }
            }
            if (others.Count > 0) { return "open to " + string.Join(", ", others.ToArray()); }
            if (role == "home" && !isProtected) { return "inherits entries from its parent"; }
            return null;
        }

        // The ACL of everything this side creates: owner account, SYSTEM and Administrators only,
        // protected from inheritance. A directory passes it on to what is created in it.
        public static string PrivateSddl(string accountSid, bool directory)
        {
            string inherit = directory ? "OICI" : "";
            return "D:P(A;" + inherit + ";FA;;;" + accountSid + ")(A;" + inherit + ";FA;;;SY)(A;" + inherit + ";FA;;;BA)";
        }

        // temp | auth_backup | config_backup | null for a name in the Codex home: the POSIX module's
        // list_leftovers (".<file>.<random>.tmp", "<file>.<stamp>~").
        public static string LeftoverKind(string name)
        {
            string[] bases = { "config.toml", "auth.json" };
            string kind = null;
            for (int i = 0; i < bases.Length; i++)
            {
                if (name.StartsWith("." + bases[i] + ".", StringComparison.Ordinal) && name.EndsWith(".tmp", StringComparison.Ordinal))
                {
                    kind = "temp";
                }
                else if (name.StartsWith(bases[i] + ".", StringComparison.Ordinal) && name.EndsWith("~", StringComparison.Ordinal))
                {
                    kind = i == bases.Length - 1 ? "auth_backup" : "config_backup";
                }
            }
            return kind;
        }

        static readonly string[] ReservedNames = { "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5",
            "COM6", "COM7", "COM8", "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9" };

        // A Windows absolute path, "X:\..." or "\\server\share\..." ('/' taken as '\'), split into
        // { display root, NT root, component... } with "." and ".." removed lexically (as
        // ntpath.normpath does); null when the path is not absolute in that sense.
        public static string[] SplitAbsolute(string path)
        {
            if (path == null) { return null; }
            string p = path.Replace('/', '\\');
            string root, nt, rest;
            if (p.Length >= 3 && ((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) && p[1] == ':' && p[2] == '\\')
            {
                root = char.ToUpperInvariant(p[0]) + ":\\";
                nt = "\\??\\" + root;
                rest = p.Substring(3);
            }
            else if (p.StartsWith("\\\\", StringComparison.Ordinal) && !p.StartsWith("\\\\?\\", StringComparison.Ordinal)
                     && !p.StartsWith("\\\\.\\", StringComparison.Ordinal))
            {
                string[] unc = p.Substring(2).Split(new char[] { '\\' }, 3);
                if (unc.Length < 2 || unc[0].Length == 0 || unc[1].Length == 0) { return null; }
                root = "\\\\" + unc[0] + "\\" + unc[1] + "\\";
                nt = "\\??\\UNC\\" + unc[0] + "\\" + unc[1] + "\\";
                rest = unc.Length > 2 ? unc[2] : "";
            }
            else { return null; }
            List<string> parts = new List<string>();
            parts.Add(root);
            parts.Add(nt);
            foreach (string c in rest.Split('\\'))
            {
                if (c.Length == 0 || c == ".") { continue; }
                if (c == "..") { if (parts.Count > 2) { parts.RemoveAt(parts.Count - 1); } continue; }
                parts.Add(c);
            }
            return parts.ToArray();
        }

        public static string JoinAbsolute(string[] split, int count)
        {
            List<string> names = new List<string>();
            for (int i = 2; i < count; i++) { names.Add(split[i]); }
            return split[0] + string.Join("\\", names.ToArray());
        }

        // Why a path component cannot be used as a name, or null (NT opens take names literally, so
        // what Win32 would strip or map to a device is refused instead).
        public static string ComponentRefusal(string name)
        {
            if (name.IndexOfAny(new char[] { ':', '*', '?', '"', '<', '>', '|' }) >= 0) { return "contains one of : * ? \" < > |"; }
            foreach (char c in name) { if (c < 32) { return "contains a control character"; } }
            if (name.EndsWith(".", StringComparison.Ordinal) || name.EndsWith(" ", StringComparison.Ordinal)) { return "ends with a dot or a space"; }
            string stem = name.Split('.')[0].TrimEnd(' ').ToUpperInvariant();
            if (Array.IndexOf(ReservedNames, stem) >= 0) { return "is a reserved device name"; }
            return null;
        }

        // Like module_utils/_codex_protocol.check_codex_home, with Windows' notion of absolute.
        public static string HomeRefusal(string raw)
        {
            if (raw == null) { return null; }
            if (raw.Length == 0 || !(raw.StartsWith("~", StringComparison.Ordinal) || SplitAbsolute(raw) != null)
                || raw.IndexOf('$') >= 0 || raw.IndexOf('%') >= 0)
            {
                return "codex_home must be an absolute path or start with ~, not '" + raw + "'";
            }
            return null;
        }

        // "~" -> { "", "" }; "~/a" or "~\a" -> { "", "a" }; "~bob\a" -> { "bob", "a" }; else null.
        public static string[] SplitTilde(string raw)
        {
            if (raw == null || !raw.StartsWith("~", StringComparison.Ordinal)) { return null; }
            string rest = raw.Substring(1);
            int cut = rest.IndexOfAny(new char[] { '/', '\\' });
            if (cut < 0) { return new string[] { rest, "" }; }
            return new string[] { rest.Substring(0, cut), rest.Substring(cut + 1) };
        }

        public static string TempName(string fileName, Guid id)
        {
            return "." + fileName + "." + id.ToString("N") + ".tmp";
        }

        // file.YYYY-MM-DD@HH-MM-SS~ (no colons on Windows); .N before the ~ when that name is taken.
        public static string BackupName(string fileName, DateTime now, int attempt)
        {
            string stamp = now.ToString("yyyy-MM-dd@HH-mm-ss", System.Globalization.CultureInfo.InvariantCulture);
            return fileName + "." + stamp + (attempt > 0 ? "." + attempt : "") + "~";
        }
    }

    // JSON as Python's json module reads and writes it (the POSIX side's parse_auth and
    // json.dumps(indent=2, ensure_ascii=False)), so both host sides judge and write auth.json alike.
    // Objects keep their key order; a repeated key keeps its first place and its last value.
    public sealed class JsonObject
    {
        public readonly List<string> Keys = new List<string>();
        readonly Dictionary<string, object> values = new Dictionary<string, object>(StringComparer.Ordinal);

        public bool Contains(string key) { return values.ContainsKey(key); }

        public object Get(string key)
        {
            object value;
            return values.TryGetValue(key, out value) ? value : null;
        }

        public void Set(string key, object value)
        {
            if (!values.ContainsKey(key)) { Keys.Add(key); }
            values[key] = value;
        }

        public void Remove(string key)
        {
            if (values.Remove(key)) { Keys.Remove(key); }
        }

        public JsonObject Copy()
        {
            JsonObject copy = new JsonObject();
            foreach (string key in Keys) { copy.Set(key, values[key]); }
            return copy;
        }
    }

    public sealed class JsonNumber
    {
        public string Text;
        public bool Integer;
    }

    public sealed class JsonError : Exception
    {
        public readonly int Position;
        public JsonError(string message, int position) : base(message) { Position = position; }
    }

    public static class Json
    {
        const string Ws = " \t\n\r";

        public static object Parse(string s)
        {
            int end;
            object value = Value(s, Skip(s, 0), 0, out end);
            end = Skip(s, end);
            if (end != s.Length) { throw new JsonError("Extra data", end); }
            return value;
        }

        static int Skip(string s, int i)
        {
            while (i < s.Length && Ws.IndexOf(s[i]) >= 0) { i++; }
            return i;
        }

        static bool At(string s, int i, string word)
        {
            return string.CompareOrdinal(s, i, word, 0, word.Length) == 0 && i + word.Length <= s.Length;
        }

        // Deeper nesting is refused instead of exhausting the stack (a hostile auth.json may hold
        // 250000 brackets; a stack overflow would end the whole process).
        public const int MaxDepth = 512;

        static object Value(string s, int i, int depth, out int end)
        {
            if (i >= s.Length) { throw new JsonError("Expecting value", i); }
            char c = s[i];
            if ((c == '{' || c == '[') && depth >= MaxDepth) { throw new JsonError("Nesting deeper than " + MaxDepth + " levels", i); }
            if (c == '"') { return Str(s, i + 1, out end); }
            if (c == '{') { return Obj(s, i + 1, depth + 1, out end); }
            if (c == '[') { return Arr(s, i + 1, depth + 1, out end); }
            if (At(s, i, "null")) { end = i + 4; return null; }
            if (At(s, i, "true")) { end = i + 4; return true; }
            if (At(s, i, "false")) { end = i + 5; return false; }
            if (At(s, i, "NaN")) { end = i + 3; return new JsonNumber { Text = "NaN" }; }
            if (At(s, i, "Infinity")) { end = i + 8; return new JsonNumber { Text = "Infinity" }; }
            if (At(s, i, "-Infinity")) { end = i + 9; return new JsonNumber { Text = "-Infinity" }; }
            int j = i;
            if (j < s.Length && s[j] == '-') { j++; }
            if (j < s.Length && s[j] == '0') { j++; }
            else if (j < s.Length && s[j] >= '1' && s[j] <= '9') { while (j < s.Length && s[j] >= '0' && s[j] <= '9') { j++; } }
            else { throw new JsonError("Expecting value", i); }
            bool integer = true;
            if (j + 1 < s.Length && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9')
            {
                integer = false;
                j += 2;
                while (j < s.Length && s[j] >= '0' && s[j] <= '9') { j++; }
            }
            if (j < s.Length && (s[j] == 'e' || s[j] == 'E'))
            {
                int k = j + 1;
                if (k < s.Length && (s[k] == '+' || s[k] == '-')) { k++; }
                if (k < s.Length && s[k] >= '0' && s[k] <= '9')
                {
                    while (k < s.Length && s[k] >= '0' && s[k] <= '9') { k++; }
                    integer = false;
                    j = k;
                }
            }
            end = j;
            return new JsonNumber { Text = s.Substring(i, j - i), Integer = integer };
        }

        static string Str(string s, int i, out int end)
        {
            int begin = i - 1;
            StringBuilder text = new StringBuilder();
            while (true)
            {
                if (i >= s.Length) { throw new JsonError("Unterminated string starting at", begin); }
                char c = s[i];
                if (c == '"') { end = i + 1; return text.ToString(); }
                if (c < ' ') { throw new JsonError("Invalid control character at", i); }
                if (c != '\\') { text.Append(c); i++; continue; }
                if (i + 1 >= s.Length) { throw new JsonError("Unterminated string starting at", begin); }
                char e = s[i + 1];
                switch (e)
                {
                    case '"': text.Append('"'); break;
                    case '\\': text.Append('\\'); break;
                    case '/': text.Append('/'); break;
                    case 'b': text.Append('\b'); break;
                    case 'f': text.Append('\f'); break;
                    case 'n': text.Append('\n'); break;
                    case 'r': text.Append('\r'); break;
                    case 't': text.Append('\t'); break;
                    case 'u':
                        int code = Hex4(s, i + 2);
                        if (code < 0) { throw new JsonError("Invalid \\uXXXX escape", i + 1); }
                        i += 6;
                        if (code >= 0xD800 && code <= 0xDBFF && i + 1 < s.Length && s[i] == '\\' && s[i + 1] == 'u')
                        {
                            int low = Hex4(s, i + 2);
                            if (low < 0) { throw new JsonError("Invalid \\uXXXX escape", i + 1); }
                            if (low >= 0xDC00 && low <= 0xDFFF)
                            {
                                text.Append((char)code).Append((char)low);
                                i += 6;
                                continue;
                            }
                        }
                        text.Append((char)code);
                        continue;
                    default: throw new JsonError("Invalid \\escape", i);
                }
                i += 2;
            }
        }

        static int Hex4(string s, int i)
        {
            if (i + 4 > s.Length) { return -1; }
            int value = 0;
            for (int k = i; k < i + 4; k++)
            {
                char c = s[k];
                int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                if (d < 0) { return -1; }
                value = value * 16 + d;
            }
            return value;
        }

        static JsonObject Obj(string s, int i, int depth, out int end)
        {
            JsonObject obj = new JsonObject();
            i = Skip(s, i);
            if (i < s.Length && s[i] == '}') { end = i + 1; return obj; }
            if (i >= s.Length || s[i] != '"') { throw new JsonError("Expecting property name enclosed in double quotes", i); }
            i++;
            while (true)
            {
                string key = Str(s, i, out i);
                i = Skip(s, i);
                if (i >= s.Length || s[i] != ':') { throw new JsonError("Expecting ':' delimiter", i); }
                i = Skip(s, i + 1);
                obj.Set(key, Value(s, i, depth, out i));
                i = Skip(s, i);
                if (i < s.Length && s[i] == '}') { end = i + 1; return obj; }
                if (i >= s.Length || s[i] != ',') { throw new JsonError("Expecting ',' delimiter", i); }
                i = Skip(s, i + 1);
                if (i >= s.Length || s[i] != '"') { throw new JsonError("Expecting property name enclosed in double quotes", i); }
                i++;
            }
        }

        static List<object> Arr(string s, int i, int depth, out int end)
        {
            List<object> list = new List<object>();
            i = Skip(s, i);
            if (i < s.Length && s[i] == ']') { end = i + 1; return list; }
            while (true)
            {
                list.Add(Value(s, i, depth, out i));
                i = Skip(s, i);
                if (i < s.Length && s[i] == ']') { end = i + 1; return list; }
                if (i >= s.Length || s[i] != ',') { throw new JsonError("Expecting ',' delimiter", i); }
                i = Skip(s, i + 1);
            }
        }

        // json.dumps(value, indent=2, ensure_ascii=False)
        public static string Dump(object value)
        {
            StringBuilder text = new StringBuilder();
            Write(text, value, 0);
            return text.ToString();
        }

        static void Write(StringBuilder text, object value, int level)
        {
            if (value == null) { text.Append("null"); return; }
            if (value is bool) { text.Append((bool)value ? "true" : "false"); return; }
            if (value is string) { Quote(text, (string)value); return; }
            if (value is JsonNumber) { text.Append(NumberText((JsonNumber)value)); return; }
            string inner = "\n" + new string(' ', 2 * (level + 1));
            JsonObject obj = value as JsonObject;
            if (obj != null)
            {
                if (obj.Keys.Count == 0) { text.Append("{}"); return; }
                text.Append('{');
                for (int k = 0; k < obj.Keys.Count; k++)
                {
                    text.Append(k == 0 ? inner : "," + inner);
                    Quote(text, obj.Keys[k]);
                    text.Append(": ");
                    Write(text, obj.Get(obj.Keys[k]), level + 1);
                }
                text.Append('\n').Append(' ', 2 * level).Append('}');
                return;
            }
            List<object> list = (List<object>)value;
            if (list.Count == 0) { text.Append("[]"); return; }
            text.Append('[');
            for (int k = 0; k < list.Count; k++)
            {
                text.Append(k == 0 ? inner : "," + inner);
                Write(text, list[k], level + 1);
            }
            text.Append('\n').Append(' ', 2 * level).Append(']');
        }

        static void Quote(StringBuilder text, string value)
        {
            text.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': text.Append("\\\""); break;
                    case '\\': text.Append("\\\\"); break;
                    case '\n': text.Append("\\n"); break;
                    case '\r': text.Append("\\r"); break;
                    case '\t': text.Append("\\t"); break;
                    case '\b': text.Append("\\b"); break;
                    case '\f': text.Append("\\f"); break;
                    default:
                        if (c < ' ') { text.Append("\\u").Append(((int)c).ToString("x4")); }
                        else { text.Append(c); }
                        break;
                }
            }
            text.Append('"');
        }

        // int(text) / float(text) written back as Python writes them.
        public static string NumberText(JsonNumber number)
        {
            string t = number.Text;
            if (t == "NaN" || t == "Infinity" || t == "-Infinity") { return t; }
            if (number.Integer) { return t.TrimStart('-').TrimStart('0').Length == 0 ? "0" : t; }
            double d;
            try { d = double.Parse(t, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture); }
            catch (OverflowException) { d = t.StartsWith("-", StringComparison.Ordinal) ? double.NegativeInfinity : double.PositiveInfinity; }
            if (d == 0 && t.StartsWith("-", StringComparison.Ordinal)) { return "-0.0"; }  // .NET Framework drops the sign
            return FloatRepr(d);
        }

        // float.__repr__: the shortest round-trip digits, fixed notation for 1e-4 <= |d| < 1e16.
        public static string FloatRepr(double d)
        {
            if (double.IsNaN(d)) { return "NaN"; }
            if (double.IsPositiveInfinity(d)) { return "Infinity"; }
            if (double.IsNegativeInfinity(d)) { return "-Infinity"; }
            if (d == 0) { return BitConverter.DoubleToInt64Bits(d) < 0 ? "-0.0" : "0.0"; }
            // the fewest significant digits that read back as the same double, as Python's repr
            string r = null;
            for (int precision = 1; precision <= 17; precision++)
            {
                r = d.ToString("E" + (precision - 1), System.Globalization.CultureInfo.InvariantCulture);
                try
                {
                    if (double.Parse(r, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture) == d) { break; }
                }
                catch (OverflowException) { continue; }  // rounded past double.MaxValue
            }
            string sign = "";
            if (r.StartsWith("-", StringComparison.Ordinal)) { sign = "-"; r = r.Substring(1); }
            int e = r.IndexOf('E');
            int exponent = int.Parse(r.Substring(e + 1), System.Globalization.CultureInfo.InvariantCulture);
            r = r.Substring(0, e);
            int dot = r.IndexOf('.');
            string digits = dot >= 0 ? r.Remove(dot, 1) : r;
            int point = (dot >= 0 ? dot : r.Length) + exponent;
            digits = digits.TrimEnd('0');
            if (digits.Length == 0) { return sign + "0.0"; }
            int exp10 = point - 1;
            if (exp10 >= -4 && exp10 < 16)
            {
                if (point <= 0) { return sign + "0." + new string('0', -point) + digits; }
                if (point >= digits.Length) { return sign + digits + new string('0', point - digits.Length) + ".0"; }
                return sign + digits.Substring(0, point) + "." + digits.Substring(point);
            }
            string mantissa = digits.Length > 1 ? digits.Substring(0, 1) + "." + digits.Substring(1) : digits;
            return sign + mantissa + "e" + (exp10 < 0 ? "-" : "+") + Math.Abs(exp10).ToString("00", System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    public sealed class AuthRead
    {
        public JsonObject Obj;
        public string ErrorMsg;
        public int ErrorLine;
        public int ErrorColumn;
    }

    // How Codex reads auth.json and how the key is written, exactly as module_utils/_codex_auth.py
    // and the POSIX module (parse_auth, new_auth_bytes) decide it.
    public static class Auth
    {
        public static readonly string[] KnownModes = { "apikey", "chatgpt", "chatgptAuthTokens", "agentIdentity" };
        static readonly Regex Rfc3339 = new Regex(@"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$");
        static readonly Regex B64Url = new Regex(@"^[A-Za-z0-9_-]+$");

        // Bytes of auth.json -> the object, or why it is not one (never any content).
        public static AuthRead Read(byte[] data)
        {
            AuthRead read = new AuthRead();
            string text;
            try { text = new UTF8Encoding(false, true).GetString(data); }
            catch (DecoderFallbackException) { read.ErrorMsg = "not valid UTF-8"; return read; }
            if (text.StartsWith("\uFEFF", StringComparison.Ordinal)) { text = text.Substring(1); }
            object value;
            try { value = Json.Parse(text); }
            catch (JsonError error)
            {
                read.ErrorMsg = "invalid JSON: " + error.Message;
                read.ErrorLine = Count(text, error.Position) + 1;
                read.ErrorColumn = error.Position - (error.Position == 0 ? -1 : text.LastIndexOf('\n', error.Position - 1));
                return read;
            }
            read.Obj = value as JsonObject;
            if (read.Obj == null)
            {
                read.ErrorMsg = "invalid auth.json: the top level must be a JSON object";
                read.ErrorLine = 1;
                read.ErrorColumn = 1;
            }
            return read;
        }

        static int Count(string text, int end)
        {
            int lines = 0;
            for (int i = 0; i < end && i < text.Length; i++) { if (text[i] == '\n') { lines++; } }
            return lines;
        }

        public static string Text(JsonObject obj, string key)
        {
            return obj == null ? null : obj.Get(key) as string;
        }

        public static bool JwtOk(string token)
        {
            string[] parts = token.Split('.');
            if (parts.Length < 3 || parts[0].Length == 0 || parts[2].Length == 0 || !B64Url.IsMatch(parts[1])) { return false; }
            string b64 = parts[1].Replace('-', '+').Replace('_', '/');
            b64 += new string('=', (4 - parts[1].Length % 4) % 4);
            object claims;
            try { claims = Json.Parse(new UTF8Encoding(false, true).GetString(Convert.FromBase64String(b64))); }
            catch (FormatException) { return false; }
            catch (ArgumentException) { return false; }
            catch (JsonError) { return false; }
            if (claims is List<object>) { return true; }
            JsonObject obj = claims as JsonObject;
            if (obj == null) { return false; }
            object email = obj.Get("email");
            object auth = obj.Get("https://api.openai.com/auth");
            object profile = obj.Get("https://api.openai.com/profile");
            return (email == null || email is string) && (auth == null || auth is JsonObject) && (profile == null || profile is JsonObject);
        }

        public static string TokensState(JsonObject obj)
        {
            object tokens = obj.Get("tokens");
            if (tokens == null) { return "absent"; }
            JsonObject t = tokens as JsonObject;
            if (t == null) { return "unparseable"; }
            foreach (string name in new string[] { "id_token", "access_token", "refresh_token" })
            {
                if (!(t.Get(name) is string)) { return "unparseable"; }
            }
            if (t.Get("account_id") != null && !(t.Get("account_id") is string)) { return "unparseable"; }
            return JwtOk((string)t.Get("id_token")) ? "ok" : "unparseable";
        }

        public static string[] UnreadableFields(JsonObject obj)
        {
            List<string> bad = new List<string>();
            object mode = obj.Get("auth_mode");
            if (mode != null && !(mode is string && Array.IndexOf(KnownModes, (string)mode) >= 0)) { bad.Add("auth_mode"); }
            object key = obj.Get("OPENAI_API_KEY");
            if (key != null && !(key is string)) { bad.Add("OPENAI_API_KEY"); }
            object refresh = obj.Get("last_refresh");
            if (refresh != null && !(refresh is string && Rfc3339.IsMatch((string)refresh))) { bad.Add("last_refresh"); }
            if (TokensState(obj) == "unparseable") { bad.Add("tokens"); }
            return bad.ToArray();
        }

        public static string Credentials(JsonObject obj)
        {
            if (obj == null) { return "none"; }
            if (UnreadableFields(obj).Length > 0) { return "unreadable"; }
            object key = obj.Get("OPENAI_API_KEY");
            string mode = obj.Get("auth_mode") as string;
            if (mode == null) { mode = key != null ? "apikey" : "chatgpt"; }
            if (mode == "apikey") { return string.IsNullOrEmpty(key as string) ? "none" : "apikey"; }
            return TokensState(obj) == "ok" ? "chatgpt" : "none";
        }

        // Top-level field names other than OPENAI_API_KEY, sorted by code point like Python's sorted().
        public static string[] FieldNames(JsonObject obj)
        {
            List<string> names = new List<string>();
            foreach (string key in obj.Keys) { if (key != "OPENAI_API_KEY") { names.Add(key); } }
            names.Sort(CodePointOrder);
            return names.ToArray();
        }

        static int CodePointOrder(string a, string b)
        {
            int i = 0, j = 0;
            while (i < a.Length && j < b.Length)
            {
                int x = char.IsSurrogatePair(a, i) ? char.ConvertToUtf32(a, i) : a[i];
                int y = char.IsSurrogatePair(b, j) ? char.ConvertToUtf32(b, j) : b[j];
                if (x != y) { return x < y ? -1 : 1; }
                i += x > 0xFFFF ? 2 : 1;
                j += y > 0xFFFF ? 2 : 1;
            }
            return (a.Length - i).CompareTo(b.Length - j);
        }

        // The stored key when it is a string, else null.
        public static string StoredKey(JsonObject obj) { return Text(obj, "OPENAI_API_KEY"); }

        // set: nothing to write when the key and auth_mode are already there and Codex can read the file.
        public static bool AlreadySet(JsonObject obj, string secret)
        {
            return obj != null && StoredKey(obj) == secret && Text(obj, "auth_mode") == "apikey" && UnreadableFields(obj).Length == 0;
        }

        // remove: there is a key (or API-key mode) to take away.
        public static bool HasApiKeyState(JsonObject obj)
        {
            return obj.Contains("OPENAI_API_KEY") || Text(obj, "auth_mode") == "apikey";
        }

        // The new auth.json text (null: the file goes), and the fields dropped because Codex could not
        // read the file with them; new_auth_bytes of the POSIX module.
        public static string NewText(JsonObject current, string secret, string op, List<string> dropped)
        {
            JsonObject obj = current == null ? new JsonObject() : current.Copy();
            if (op == "set")
            {
                if (Text(obj, "auth_mode") != "apikey") { obj.Set("auth_mode", "apikey"); }
                obj.Set("OPENAI_API_KEY", secret);
                foreach (string name in UnreadableFields(obj)) { dropped.Add(name); obj.Remove(name); }
            }
            else
            {
                obj.Remove("OPENAI_API_KEY");
                if (Text(obj, "auth_mode") == "apikey") { obj.Remove("auth_mode"); }
            }
            if (obj.Keys.Count == 0 && op == "remove") { return null; }
            return Json.Dump(obj) + "\n";
        }

        // For the unit tests: the read_response facts of an auth.json text, as JSON.
        public static string FactsJson(string text)
        {
            AuthRead read = Read(Rules.Utf8SurrogatePass(text));
            JsonObject facts = new JsonObject();
            facts.Set("valid", read.Obj != null);
            if (read.Obj == null)
            {
                JsonObject error = new JsonObject();
                error.Set("msg", read.ErrorMsg);
                error.Set("line", read.ErrorLine == 0 ? null : new JsonNumber { Text = read.ErrorLine.ToString(), Integer = true });
                error.Set("column", read.ErrorColumn == 0 ? null : new JsonNumber { Text = read.ErrorColumn.ToString(), Integer = true });
                facts.Set("error", error);
                return Json.Dump(facts);
            }
            JsonObject obj = read.Obj;
            string key = StoredKey(obj);
            facts.Set("fields", new List<object>(FieldNames(obj)));
            facts.Set("auth_mode", Text(obj, "auth_mode"));
            facts.Set("key_present", !string.IsNullOrEmpty(key));
            facts.Set("key_fingerprint", string.IsNullOrEmpty(key) ? null : Rules.Fingerprint(key));
            facts.Set("tokens", TokensState(obj));
            facts.Set("unreadable_fields", new List<object>(UnreadableFields(obj)));
            facts.Set("credentials", Credentials(obj));
            facts.Set("stored_key", key);
            facts.Set("already_set_same", AlreadySet(obj, key));
            facts.Set("has_api_key_state", HasApiKeyState(obj));
            return Json.Dump(facts);
        }

        // For the unit tests: NewText on a parsed text (null: no file), as JSON {text, dropped}.
        public static string NewTextJson(string text, string secret, string op)
        {
            JsonObject current = text == null ? null : (JsonObject)Json.Parse(text);
            List<string> dropped = new List<string>();
            JsonObject result = new JsonObject();
            result.Set("text", NewText(current, secret, op, dropped));
            result.Set("dropped", new List<object>(dropped.ToArray()));
            return Json.Dump(result);
        }

        // For the unit tests: Python's json.loads then json.dumps(indent=2, ensure_ascii=False).
        public static string Redump(string text)
        {
            return Json.Dump(Json.Parse(text));
        }
    }

    public sealed class Facts
    {
        public uint Attributes;
        public uint ReparseTag;
        public int FileType;
        public uint Links;
        public long Size;
        public byte[] Security;
    }

    // Handle-based file system access (Windows only). Every name is opened relative to the handle of
    // its directory (NtCreateFile with a root directory, like openat) and with FILE_OPEN_REPARSE_POINT,
    // so no link, junction or mount point is ever followed and a directory renamed between two steps
    // cannot redirect the next one. Directories stay open without delete sharing for the whole run, so
    // they cannot be renamed or replaced while this side works in them.
    public static class Native
    {
        public const uint ReadData = 0x1;
        public const uint WriteData = 0x2;
        public const uint ReadAttributes = 0x80;
        public const uint Delete = 0x10000;
        public const uint ReadControl = 0x20000;
        public const uint WriteDac = 0x40000;
        public const uint Synchronize = 0x100000;
        const uint ShareRead = 1, ShareWrite = 2;
        const uint FileOpen = 1, FileCreate = 2;
        const uint DirectoryFile = 0x1, SynchronousIo = 0x20, NonDirectoryFile = 0x40,
                   CompleteIfOplocked = 0x100, OpenReparsePoint = 0x200000;
        const uint ObjCaseInsensitive = 0x40;
        const int StatusNameNotFound = unchecked((int)0xC0000034);
        const int StatusNameCollision = unchecked((int)0xC0000035);
        const int StatusInvalidInfoClass = unchecked((int)0xC0000003);
        const int StatusInvalidParameter = unchecked((int)0xC000000D);
        const int StatusNotSupported = unchecked((int)0xC00000BB);
        const uint RenameReplace = 0x1, RenamePosix = 0x2, RenameIgnoreReadOnly = 0x40;
        const uint DispositionDelete = 0x1, DispositionPosix = 0x2, DispositionIgnoreReadOnly = 0x10;
        const int StatusOplockBreakInProgress = 0x108;
        const uint OwnerAndDacl = 0x1 | 0x4;
        const uint DaclProtected = 0x4 | 0x80000000;

        [StructLayout(LayoutKind.Sequential)]
        struct UnicodeString { public ushort Length; public ushort MaximumLength; public IntPtr Buffer; }

        [StructLayout(LayoutKind.Sequential)]
        struct ObjectAttributes
        {
            public int Length; public IntPtr RootDirectory; public IntPtr ObjectName; public uint Attributes;
            public IntPtr SecurityDescriptor; public IntPtr SecurityQualityOfService;
        }

        [StructLayout(LayoutKind.Sequential)]
        struct IoStatusBlock { public IntPtr Status; public IntPtr Information; }

        [StructLayout(LayoutKind.Sequential)]
        struct ByHandleInfo
        {
            public uint FileAttributes; public uint C1, C2, A1, A2, W1, W2;
            public uint VolumeSerialNumber, FileSizeHigh, FileSizeLow, NumberOfLinks, FileIndexHigh, FileIndexLow;
        }

        [StructLayout(LayoutKind.Sequential)]
        struct AttributeTagInfo { public uint FileAttributes; public uint ReparseTag; }

        [DllImport("ntdll.dll")]
        static extern int NtCreateFile(out IntPtr handle, uint access, ref ObjectAttributes attributes,
            out IoStatusBlock status, IntPtr allocationSize, uint fileAttributes, uint share, uint disposition,
            uint options, IntPtr eaBuffer, uint eaLength);

        [DllImport("ntdll.dll")]
        static extern int NtSetInformationFile(SafeFileHandle handle, out IoStatusBlock status, IntPtr info,
            uint length, int infoClass);

        [DllImport("ntdll.dll")]
        static extern uint RtlNtStatusToDosError(int status);

        [DllImport("kernel32.dll", SetLastError = true)]
        static extern bool GetFileInformationByHandle(SafeFileHandle handle, out ByHandleInfo info);

        [DllImport("kernel32.dll", SetLastError = true)]
        static extern bool GetFileInformationByHandleEx(SafeFileHandle handle, int infoClass, out AttributeTagInfo info, uint size);

        [DllImport("kernel32.dll", SetLastError = true)]
        static extern bool GetFileInformationByHandleEx(SafeFileHandle handle, int infoClass, IntPtr buffer, uint size);

        [DllImport("kernel32.dll", SetLastError = true)]
        static extern int GetFileType(SafeFileHandle handle);

        [DllImport("kernel32.dll", SetLastError = true)]
        static extern bool ReadFile(SafeFileHandle handle, byte[] buffer, int count, out int read, IntPtr overlapped);

        [DllImport("kernel32.dll", SetLastError = true)]
        static extern bool WriteFile(SafeFileHandle handle, byte[] buffer, int count, out int written, IntPtr overlapped);

        [DllImport("kernel32.dll", SetLastError = true)]
        static extern bool FlushFileBuffers(SafeFileHandle handle);

        [DllImport("advapi32.dll", SetLastError = true)]
        static extern bool GetKernelObjectSecurity(SafeFileHandle handle, uint requested, byte[] descriptor,
            uint length, out uint needed);

        [DllImport("advapi32.dll", SetLastError = true)]
        static extern bool SetKernelObjectSecurity(SafeFileHandle handle, uint information, byte[] descriptor);

        static Win32Exception Fail(int status)
        {
            return new Win32Exception((int)RtlNtStatusToDosError(status));
        }

        // Open (or create) one name relative to an open directory; null when it does not exist.
        // dir null: name is an NT path such as \??\C:\ (the volume root the walk starts from).
        public static SafeFileHandle OpenAt(SafeFileHandle dir, string name, uint access, bool create,
                                            bool directory, bool follow, byte[] securityDescriptor)
        {
            if (dir != null && (name.Length == 0 || name == "." || name == ".." || name.IndexOfAny(new char[] { '\\', '/', ':' }) >= 0))
            {
                throw new ArgumentException("not a single path component: " + name);
            }
            IntPtr buffer = Marshal.StringToHGlobalUni(name);
            GCHandle pinned = new GCHandle();
            bool added = false;
            try
            {
                UnicodeString uname = new UnicodeString();
                uname.Length = (ushort)(name.Length * 2);
                uname.MaximumLength = (ushort)(name.Length * 2 + 2);
                uname.Buffer = buffer;
                IntPtr unamePtr = Marshal.AllocHGlobal(Marshal.SizeOf(typeof(UnicodeString)));
                try
                {
                    Marshal.StructureToPtr(uname, unamePtr, false);
                    ObjectAttributes oa = new ObjectAttributes();
                    oa.Length = Marshal.SizeOf(typeof(ObjectAttributes));
                    oa.ObjectName = unamePtr;
                    oa.Attributes = ObjCaseInsensitive;
                    if (dir != null) { dir.DangerousAddRef(ref added); oa.RootDirectory = dir.DangerousGetHandle(); }
                    if (securityDescriptor != null)
                    {
                        pinned = GCHandle.Alloc(securityDescriptor, GCHandleType.Pinned);
                        oa.SecurityDescriptor = pinned.AddrOfPinnedObject();
                    }
                    uint options = SynchronousIo | CompleteIfOplocked | (follow ? 0 : OpenReparsePoint);
                    if (create) { options |= directory ? DirectoryFile : NonDirectoryFile; }
                    uint share = create && !directory ? 0 : (ShareRead | ShareWrite);
                    IntPtr raw;
                    IoStatusBlock io;
                    int status = NtCreateFile(out raw, access | Synchronize | ReadAttributes | ReadControl, ref oa, out io, IntPtr.Zero,
                                              0x80, share, create ? FileCreate : FileOpen, options, IntPtr.Zero, 0);
                    if (status == StatusNameNotFound && !create) { return null; }
                    if (status < 0) { throw Fail(status); }
                    SafeFileHandle handle = new SafeFileHandle(raw, true);
                    if (status == StatusOplockBreakInProgress)
                    {
                        handle.Dispose();
                        throw new IOException("another program holds an opportunistic lock on it; try again later");
                    }
                    return handle;
                }
                finally { Marshal.FreeHGlobal(unamePtr); }
            }
            finally
            {
                if (pinned.IsAllocated) { pinned.Free(); }
                if (added) { dir.DangerousRelease(); }
                Marshal.FreeHGlobal(buffer);
            }
        }

        public static Facts Query(SafeFileHandle handle)
        {
            Facts facts = new Facts();
            ByHandleInfo info;
            if (!GetFileInformationByHandle(handle, out info)) { throw new Win32Exception(); }
            AttributeTagInfo tag;
            if (!GetFileInformationByHandleEx(handle, 9, out tag, (uint)Marshal.SizeOf(typeof(AttributeTagInfo)))) { throw new Win32Exception(); }
            facts.Attributes = info.FileAttributes;
            facts.ReparseTag = (info.FileAttributes & Rules.AttrReparsePoint) != 0 ? tag.ReparseTag : 0;
            facts.Links = info.NumberOfLinks;
            facts.Size = ((long)info.FileSizeHigh << 32) | info.FileSizeLow;
            facts.FileType = GetFileType(handle);
            uint needed;
            GetKernelObjectSecurity(handle, OwnerAndDacl, null, 0, out needed);
            byte[] descriptor = new byte[needed];
            if (!GetKernelObjectSecurity(handle, OwnerAndDacl, descriptor, needed, out needed)) { throw new Win32Exception(); }
            facts.Security = descriptor;
            return facts;
        }

        // Read the whole file through the handle; refuse more than cap bytes.
        public static byte[] ReadAll(SafeFileHandle handle, int cap)
        {
            MemoryStream into = new MemoryStream();
            byte[] chunk = new byte[65536];
            int n;
            while (true)
            {
                if (!ReadFile(handle, chunk, chunk.Length, out n, IntPtr.Zero)) { throw new Win32Exception(); }
                if (n == 0) { break; }
                into.Write(chunk, 0, n);
                if (into.Length > cap) { throw new IOException("is larger than " + cap + " bytes"); }
            }
            return into.ToArray();
        }

        public static void WriteAll(SafeFileHandle handle, byte[] bytes)
        {
            int done = 0;
            while (done < bytes.Length)
            {
                byte[] part = new byte[bytes.Length - done];
                Array.Copy(bytes, done, part, 0, part.Length);
                int n;
                if (!WriteFile(handle, part, part.Length, out n, IntPtr.Zero)) { throw new Win32Exception(); }
                done += n;
            }
            if (!FlushFileBuffers(handle)) { throw new Win32Exception(); }
        }

        // Rename the open file to name in the directory dir (both handles): FileRenameInformation.
        // Rename the open file to name in the directory dir (both handles). FileRenameInformationEx
        // (Windows 10 1809+) with POSIX semantics, where a read-only target (an attribute the account
        // can set) does not block the replacement; the classic FileRenameInformation elsewhere.
        // False when the name exists and replace is false (the caller picks another name).
        public static bool RenameAt(SafeFileHandle handle, SafeFileHandle dir, string name, bool replace)
        {
            int status = Rename(handle, dir, name, RenamePosix | (replace ? RenameReplace | RenameIgnoreReadOnly : 0), 65);
            if (status == StatusInvalidInfoClass || status == StatusNotSupported || status == StatusInvalidParameter)
            {
                status = Rename(handle, dir, name, replace ? RenameReplace : 0, 10);
            }
            if (status == StatusNameCollision && !replace) { return false; }
            if (status < 0) { throw Fail(status); }
            return true;
        }

        static int Rename(SafeFileHandle handle, SafeFileHandle dir, string name, uint flags, int infoClass)
        {
            // FILE_RENAME_INFORMATION(_EX): flags (or the BOOLEAN ReplaceIfExists), the root directory
            // handle (pointer-aligned), the name length in bytes, the name
            int nameOffset = 2 * IntPtr.Size + 4;
            int size = nameOffset + name.Length * 2 + 2;
            IntPtr info = Marshal.AllocHGlobal(size);
            bool added = false;
            try
            {
                for (int i = 0; i < size; i++) { Marshal.WriteByte(info, i, 0); }
                Marshal.WriteInt32(info, 0, (int)flags);
                dir.DangerousAddRef(ref added);
                Marshal.WriteIntPtr(info, IntPtr.Size, dir.DangerousGetHandle());
                Marshal.WriteInt32(info, 2 * IntPtr.Size, name.Length * 2);
                byte[] chars = Encoding.Unicode.GetBytes(name);
                Marshal.Copy(chars, 0, new IntPtr(info.ToInt64() + nameOffset), chars.Length);
                IoStatusBlock io;
                return NtSetInformationFile(handle, out io, info, (uint)size, infoClass);
            }
            finally
            {
                if (added) { dir.DangerousRelease(); }
                Marshal.FreeHGlobal(info);
            }
        }

        // Delete the open object (the name it was opened by): FileDispositionInformationEx with POSIX
        // semantics, ignoring a read-only attribute; the classic FileDispositionInformation elsewhere.
        public static void DeleteByHandle(SafeFileHandle handle)
        {
            int status = SetDisposition(handle, DispositionDelete | DispositionPosix | DispositionIgnoreReadOnly, 64);
            if (status == StatusInvalidInfoClass || status == StatusNotSupported || status == StatusInvalidParameter)
            {
                status = SetDisposition(handle, 1, 13);
            }
            if (status < 0) { throw Fail(status); }
        }

        static int SetDisposition(SafeFileHandle handle, uint flags, int infoClass)
        {
            IntPtr info = Marshal.AllocHGlobal(4);
            try
            {
                Marshal.WriteInt32(info, 0, (int)flags);
                IoStatusBlock io;
                return NtSetInformationFile(handle, out io, info, 4, infoClass);
            }
            finally { Marshal.FreeHGlobal(info); }
        }

        // Replace the DACL of the open object with the (protected) DACL of a self-relative descriptor.
        public static void SetProtectedDacl(SafeFileHandle handle, byte[] descriptor)
        {
            if (!SetKernelObjectSecurity(handle, DaclProtected, descriptor)) { throw new Win32Exception(); }
        }

        // Names in an open directory (FileFullDirectoryInfo), without "." and "..".
        public static string[] List(SafeFileHandle dir)
        {
            List<string> names = new List<string>();
            int size = 64 * 1024;
            IntPtr buffer = Marshal.AllocHGlobal(size);
            try
            {
                int infoClass = 15;  // FileFullDirectoryRestartInfo, then FileFullDirectoryInfo
                while (GetFileInformationByHandleEx(dir, infoClass, buffer, (uint)size))
                {
                    infoClass = 14;
                    int offset = 0;
                    while (true)
                    {
                        IntPtr entry = new IntPtr(buffer.ToInt64() + offset);
                        int next = Marshal.ReadInt32(entry, 0);
                        int nameLength = Marshal.ReadInt32(entry, 60);
                        string name = Marshal.PtrToStringUni(new IntPtr(entry.ToInt64() + 68), nameLength / 2);
                        if (name != "." && name != "..") { names.Add(name); }
                        if (next == 0) { break; }
                        offset += next;
                    }
                }
                int error = Marshal.GetLastWin32Error();
                if (error != 18) { throw new Win32Exception(error); }  // ERROR_NO_MORE_FILES
            }
            finally { Marshal.FreeHGlobal(buffer); }
            return names.ToArray();
        }
    }
}
'@

# ---- messages -------------------------------------------------------------------------------------

Function Get-CodexFieldSpec {
    # The fields of one message kind: ordered name -> @{ type; required; nullable; choices }.
    param([Parameter(Mandatory = $true)][string]$Kind)
    if (-not $CodexSchema.ContainsKey($Kind)) { throw "internal error: no message kind $Kind" }
    $specs = [ordered]@{}
    foreach ($line in $CodexSchema[$Kind]) {
        $parts = $line.Split(':')
        $choices = $null
        if ($parts.Length -gt 3) { $choices = $parts[3].Split('|') }
        $specs[$parts[0]] = @{
            type = $parts[1]; required = $parts[2].Contains('r'); nullable = $parts[2].Contains('n'); choices = $choices
        }
    }
    return $specs
}

Function Test-CodexFieldType {
    param([object]$Value, [string]$Type)
    switch ($Type) {
        'int' { return ($Value -is [int] -or $Value -is [long] -or ($Value -is [Bytes4096.Codex.P2.JsonNumber] -and $Value.Integer)) }
        'bool' { return ($Value -is [bool]) }
        'str' { return ($Value -is [string]) }
        'dict' { return ($Value -is [Bytes4096.Codex.P2.JsonObject] -or $Value -is [System.Collections.IDictionary]) }
        'list<str>' {
            if ($Value -isnot [System.Collections.IList]) { return $false }
            foreach ($item in $Value) { if ($item -isnot [string]) { return $false } }
            return $true
        }
        'list<dict>' {
            if ($Value -isnot [System.Collections.IList]) { return $false }
            foreach ($item in $Value) { if ($item -isnot [System.Collections.IDictionary]) { return $false } }
            return $true
        }
    }
    return $false
}

Function ConvertFrom-CodexRequest {
    # A request (read by the C# JSON reader) checked against its kind: unknown or missing fields,
    # types, choices, the protocol version. Returned as hashtables holding every field of the
    # schema (absent = null), integers as [long].
    param([AllowNull()][object]$Value, [Parameter(Mandatory = $true)][string]$Kind)
    if ($Value -isnot [Bytes4096.Codex.P2.JsonObject]) { throw "$Kind must be a JSON object" }
    $specs = Get-CodexFieldSpec -Kind $Kind
    foreach ($name in $Value.Keys) {
        if (@($specs.Keys) -cnotcontains $name) { throw "$Kind has an unknown field '$name'" }
    }
    $out = @{}
    foreach ($name in $specs.Keys) {
        $spec = $specs[$name]
        $present = $Value.Contains($name)
        $item = $Value.Get($name)
        if (-not $present -and $spec.required) { throw "$Kind lacks the field '$name'" }
        if ($null -eq $item) {
            if ($present -and -not $spec.nullable) { throw "$Kind.$name must not be null" }
            $out[$name] = $null
            continue
        }
        if (-not (Test-CodexFieldType -Value $item -Type $spec.type)) { throw "$Kind.$name must be of type $($spec.type)" }
        if ($null -ne $spec.choices -and $spec.choices -cnotcontains $item) {
            throw "$Kind.$name must be one of $($spec.choices -join ', ')"
        }
        if ($spec.type -eq 'dict') { $item = ConvertFrom-CodexRequest -Value $item -Kind "$Kind.$name" }
        if ($spec.type -eq 'int') {
            $number = [long]0
            if (-not [long]::TryParse($item.Text, [System.Globalization.NumberStyles]::AllowLeadingSign, [System.Globalization.CultureInfo]::InvariantCulture, [ref]$number)) {
                throw "$Kind.$name must be of type int"
            }
            $item = $number
        }
        $out[$name] = $item
    }
    if ($Kind.IndexOf('.') -lt 0 -and $out.protocol -ne $CodexProtocol) {
        throw "$Kind speaks protocol $($out.protocol), this side speaks $CodexProtocol`: the collection on the controller and the host side do not match"
    }
    return $out
}

Function New-CodexMessage {
    # Every object this side sends is built here: exactly the fields of its kind, each of its type.
    param([Parameter(Mandatory = $true)][string]$Kind, [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Fields)
    $specs = Get-CodexFieldSpec -Kind $Kind
    foreach ($name in $Fields.Keys) {
        if (@($specs.Keys) -cnotcontains $name) { throw "internal error: $Kind has no field '$name'" }
    }
    foreach ($name in $specs.Keys) {
        $spec = $specs[$name]
        if (-not $Fields.Contains($name)) { throw "internal error: $Kind lacks the field '$name'" }
        $item = $Fields[$name]
        if ($null -eq $item) {
            if (-not $spec.nullable) { throw "internal error: $Kind.$name must not be null" }
        }
        elseif (-not (Test-CodexFieldType -Value $item -Type $spec.type)) {
            throw "internal error: $Kind.$name must be of type $($spec.type)"
        }
        elseif ($null -ne $spec.choices -and $spec.choices -cnotcontains $item) {
            throw "internal error: $Kind.$name must be one of $($spec.choices -join ', ')"
        }
    }
    return $Fields
}

# ---- pure decisions (Bytes4096.Codex.P2.Rules; the unit tests run the same C# off Windows) --------

Function Import-CodexNative {
    if (-not ('Bytes4096.Codex.P2.Rules' -as [type])) {
        Add-Type -TypeDefinition $CodexNativeSource -Language CSharp
    }
}

Function Get-CodexFingerprint {
    # sha256: + 16 hex digits of SHA-256 over the key's UTF-8 bytes, exactly as stored.
    param([AllowNull()][AllowEmptyString()][string]$Key)
    return [Bytes4096.Codex.P2.Rules]::Fingerprint($Key)
}

Function Get-CodexPathRefusal {
    # Why a checked path may not be used ($null: it may). Role: ancestor, home or file.
    param(
        [Parameter(Mandatory = $true)][string]$Role, [Parameter(Mandatory = $true)]$Facts,
        [Parameter(Mandatory = $true)]$Security, [Parameter(Mandatory = $true)]$Who
    )
    return [Bytes4096.Codex.P2.Rules]::PathRefusal($Role, $Facts.Attributes, $Facts.ReparseTag, $Facts.FileType,
        $Facts.Links, $Security.owner, $Security.owner_name, $Who.sid, $Who.runner_sid)
}

Function Get-CodexAclRepair {
    # What is wrong with an ACL ($null: nothing). Role: home, or file (config.toml, auth.json, backups).
    param([Parameter(Mandatory = $true)][string]$Role, [Parameter(Mandatory = $true)]$Security, [Parameter(Mandatory = $true)]$Who)
    return [Bytes4096.Codex.P2.Rules]::AclProblem($Role, $Security.protected, $Security.sids, $Security.names,
        $Security.types, $Security.masks, $Security.flags, $Who.sid)
}

Function Get-CodexLeftoverKind {
    param([Parameter(Mandatory = $true)][string]$Name)
    return [Bytes4096.Codex.P2.Rules]::LeftoverKind($Name)
}

Function Get-CodexPrivateDescriptor {
    # The protected ACL of everything this side creates, as a self-relative security descriptor.
    param([Parameter(Mandatory = $true)][string]$AccountSid, [bool]$Directory)
    $sddl = [Bytes4096.Codex.P2.Rules]::PrivateSddl($AccountSid, $Directory)
    $descriptor = New-Object -TypeName System.Security.AccessControl.RawSecurityDescriptor -ArgumentList $sddl
    $bytes = New-Object -TypeName byte[] -ArgumentList $descriptor.BinaryLength
    $descriptor.GetBinaryForm($bytes, 0)
    return , $bytes
}

Function Get-CodexTokensState {
    # absent | ok | unparseable for the "tokens" field, like module_utils/_codex_auth.tokens_state.
    param([Parameter(Mandatory = $true)][Bytes4096.Codex.P2.JsonObject]$Auth)
    return [Bytes4096.Codex.P2.Auth]::TokensState($Auth)
}

Function Get-CodexCredentials {
    # apikey | chatgpt | unreadable | none: what Codex will use, like _codex_auth.credentials.
    param([AllowNull()][Bytes4096.Codex.P2.JsonObject]$Auth)
    return [Bytes4096.Codex.P2.Auth]::Credentials($Auth)
}

# ---- accounts and paths ---------------------------------------------------------------------------

Function Get-CodexErrorText {
    # The message of a .NET exception thrown inside a method call (PowerShell wraps it once).
    param([Parameter(Mandatory = $true)]$ErrorRecord)
    $exception = $ErrorRecord.Exception
    if ($exception -is [System.Management.Automation.MethodInvocationException] -and $null -ne $exception.InnerException) {
        $exception = $exception.InnerException
    }
    return $exception.Message
}

Function Get-CodexInnerException {
    param([Parameter(Mandatory = $true)]$ErrorRecord)
    $exception = $ErrorRecord.Exception
    while ($null -ne $exception.InnerException) { $exception = $exception.InnerException }
    return $exception
}

Function Get-CodexSidName {
    param([Parameter(Mandatory = $true)][string]$Sid)
    try {
        $identifier = New-Object -TypeName System.Security.Principal.SecurityIdentifier -ArgumentList $Sid
        return $identifier.Translate([System.Security.Principal.NTAccount]).Value
    }
    catch { return $Sid }
}

Function Get-CodexProfileHome {
    # The profile directory of a SID from the profile list; $null when the account has none yet.
    param([Parameter(Mandatory = $true)][string]$Sid)
    $profileKey = "HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList\$Sid"
    if (-not (Test-Path -LiteralPath $profileKey)) { return $null }
    return (Get-ItemProperty -LiteralPath $profileKey -Name 'ProfileImagePath').ProfileImagePath
}

Function Resolve-CodexAccount {
    # The account whose Codex home it is (owner, else the user this side runs as) and the runner.
    param([AllowNull()][string]$Owner)
    $runner = [System.Security.Principal.WindowsIdentity]::GetCurrent()
    if ($Owner) {
        try {
            $account = New-Object -TypeName System.Security.Principal.NTAccount -ArgumentList $Owner
            $sid = $account.Translate([System.Security.Principal.SecurityIdentifier]).Value
        }
        catch { throw "owner '$Owner' does not exist on the host" }
        $name = $Owner
    }
    else {
        $sid = $runner.User.Value
        $name = $runner.Name
    }
    $access = if ($sid -eq $runner.User.Value) { 'self' } else { 'root' }
    return @{ name = $name; sid = $sid; runner_sid = $runner.User.Value; home = (Get-CodexProfileHome -Sid $sid); access = $access }
}

Function Resolve-CodexHomePath {
    # codex_home as _codex_protocol defines it: unset -> <profile>\.codex; ~, ~\x, ~name\x; an
    # absolute path normalised lexically; anything else refused. Returns the split path.
    param([AllowNull()][object]$Raw, [Parameter(Mandatory = $true)]$Who)
    $tilde = $null
    if ($null -ne $Raw) {
        # (only a string: PowerShell would hand $null to a .NET string parameter as '')
        $refusal = [Bytes4096.Codex.P2.Rules]::HomeRefusal($Raw)
        if ($null -ne $refusal) { throw $refusal }
        $tilde = [Bytes4096.Codex.P2.Rules]::SplitTilde($Raw)
    }
    $path = $Raw
    if ($null -eq $Raw -or $null -ne $tilde) {
        $base = $Who.home
        $shown = if ($null -eq $Raw) { 'the default codex_home' } else { "codex_home $Raw" }
        if ($null -ne $tilde -and $tilde[0] -ne '') {
            try {
                $other = New-Object -TypeName System.Security.Principal.NTAccount -ArgumentList $tilde[0]
                $otherSid = $other.Translate([System.Security.Principal.SecurityIdentifier]).Value
                $base = Get-CodexProfileHome -Sid $otherSid
            }
            catch { throw "codex_home $Raw`: no account $($tilde[0]) on the host" }
        }
        if ([string]::IsNullOrEmpty($base)) { throw "$shown needs the profile of the account, and it has none yet (log on once as it)" }
        $tail = if ($null -eq $tilde) { '.codex' } else { $tilde[1] }
        $path = if ($tail) { $base.TrimEnd('\') + '\' + $tail } else { $base }
    }
    $split = [Bytes4096.Codex.P2.Rules]::SplitAbsolute($path)
    if ($null -eq $split) { throw "codex_home must be an absolute path or start with ~, not '$path'" }
    for ($i = 2; $i -lt $split.Length; $i++) {
        $problem = [Bytes4096.Codex.P2.Rules]::ComponentRefusal($split[$i])
        if ($null -ne $problem) { throw "codex_home $path`: '$($split[$i])' $problem" }
    }
    if ($split.Length -lt 3) { throw "codex_home $path is the root of a drive or share; use a directory" }
    return , $split
}

# ---- handle-based file system access --------------------------------------------------------------

Function Get-CodexSecurity {
    # Owner and DACL of a self-relative security descriptor, as plain arrays for the rules.
    param([Parameter(Mandatory = $true)][byte[]]$Descriptor)
    $sd = New-Object -TypeName System.Security.AccessControl.RawSecurityDescriptor -ArgumentList $Descriptor, 0
    $owner = if ($null -ne $sd.Owner) { $sd.Owner.Value } else { '' }
    $sids = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $names = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $types = New-Object -TypeName 'System.Collections.Generic.List[int]'
    $masks = New-Object -TypeName 'System.Collections.Generic.List[uint32]'
    $flags = New-Object -TypeName 'System.Collections.Generic.List[byte]'
    if ($null -eq $sd.DiscretionaryAcl) {
        # no DACL at all: everyone has full access
        $sids.Add('S-1-1-0'); $names.Add('Everyone'); $types.Add(0); $masks.Add([uint32]0x1F01FF); $flags.Add(0)
    }
    else {
        foreach ($ace in $sd.DiscretionaryAcl) {
            if ($ace -is [System.Security.AccessControl.CommonAce]) {
                $sid = $ace.SecurityIdentifier.Value
                $type = 2  # audit and alarm entries grant nothing
                if ($ace.AceQualifier -eq [System.Security.AccessControl.AceQualifier]::AccessAllowed) { $type = 0 }
                elseif ($ace.AceQualifier -eq [System.Security.AccessControl.AceQualifier]::AccessDenied) { $type = 1 }
                $mask = [System.BitConverter]::ToUInt32([System.BitConverter]::GetBytes([int]$ace.AccessMask), 0)
            }
            else {
                # object and callback entries are counted as granting everything, never skipped
                $sid = 'S-1-0-0'
                $type = 0
                $mask = [uint32]0x1F01FF
            }
            $sids.Add($sid); $names.Add((Get-CodexSidName -Sid $sid)); $types.Add($type); $masks.Add($mask)
            $flags.Add([byte]$ace.AceFlags)
        }
    }
    return @{
        owner = $owner; owner_name = $(if ($owner) { Get-CodexSidName -Sid $owner } else { '(nobody)' })
        protected = [bool]($sd.ControlFlags -band [System.Security.AccessControl.ControlFlags]::DiscretionaryAclProtected)
        sids = $sids.ToArray(); names = $names.ToArray(); types = $types.ToArray(); masks = $masks.ToArray(); flags = $flags.ToArray()
    }
}

Function Open-CodexEntry {
    # Opens Name in the open directory Dir without following it and checks it for Role through the
    # handle. Returns @{ handle; facts; security; path } or $null when the name does not exist.
    param(
        [Parameter(Mandatory = $true)]$Dir, [Parameter(Mandatory = $true)][string]$Path,
        [Parameter(Mandatory = $true)][string]$Name, [Parameter(Mandatory = $true)][string]$Role,
        [uint32]$Access, [Parameter(Mandatory = $true)]$Who, [bool]$Follow
    )
    try { $handle = [Bytes4096.Codex.P2.Native]::OpenAt($Dir, $Name, $Access, $false, $false, $Follow, $null) }
    catch { throw "$Path`: $(Get-CodexErrorText -ErrorRecord $_)" }
    if ($null -eq $handle) { return $null }
    try {
        $facts = [Bytes4096.Codex.P2.Native]::Query($handle)
        $security = Get-CodexSecurity -Descriptor $facts.Security
        $refusal = Get-CodexPathRefusal -Role $Role -Facts $facts -Security $security -Who $Who
        if ($null -ne $refusal) { throw "$Path $refusal" }
    }
    catch {
        $handle.Dispose()
        throw
    }
    return @{ handle = $handle; facts = $facts; security = $security; path = $Path }
}

Function Open-CodexHome {
    # Walks from the drive (or share) root to the Codex home one handle at a time. Returns
    # @{ handles; parent; home (entry or $null); parent_exists; path }; the caller disposes handles.
    param([Parameter(Mandatory = $true)][string[]]$Parts, [Parameter(Mandatory = $true)]$Who, [uint32]$HomeAccess)
    $walk = @{ handles = (New-Object -TypeName 'System.Collections.Generic.List[object]'); parent = $null; home = $null
        parent_exists = $true; path = [Bytes4096.Codex.P2.Rules]::JoinAbsolute($Parts, $Parts.Length) }
    # directories above the home are only traversed and checked (attributes, owner): no list right
    $list = [uint32][Bytes4096.Codex.P2.Native]::ReadData
    try { $dir = [Bytes4096.Codex.P2.Native]::OpenAt($null, $Parts[1], 0, $false, $true, $true, $null) }
    catch { throw "$($Parts[0])`: $(Get-CodexErrorText -ErrorRecord $_)" }
    if ($null -eq $dir) { throw "$($Parts[0]) does not exist" }
    $walk.handles.Add($dir)
    for ($i = 2; $i -lt $Parts.Length - 1; $i++) {
        $shown = [Bytes4096.Codex.P2.Rules]::JoinAbsolute($Parts, $i + 1)
        $entry = Open-CodexEntry -Dir $dir -Path $shown -Name $Parts[$i] -Role 'ancestor' -Access 0 -Who $Who
        if ($null -eq $entry) { $walk.parent_exists = $false; return $walk }
        if ($entry.facts.Attributes -band [Bytes4096.Codex.P2.Rules]::AttrReparsePoint) {
            # an administrator's junction above the Codex home: follow it, then check what it leads to
            $entry.handle.Dispose()
            $entry = Open-CodexEntry -Dir $dir -Path $shown -Name $Parts[$i] -Role 'ancestor' -Access 0 -Who $Who -Follow $true
            if ($null -eq $entry) { $walk.parent_exists = $false; return $walk }
        }
        $walk.handles.Add($entry.handle)
        $dir = $entry.handle
    }
    $walk.parent = $dir
    $walk.home = Open-CodexEntry -Dir $dir -Path $walk.path -Name $Parts[$Parts.Length - 1] -Role 'home' -Access ($list -bor $HomeAccess) -Who $Who
    if ($null -ne $walk.home) { $walk.handles.Add($walk.home.handle) }
    return $walk
}

Function Close-CodexHandles {
    param($Walk)
    if ($null -eq $Walk) { return }
    foreach ($handle in $Walk.handles) { $handle.Dispose() }
}

Function Read-CodexFile {
    # A file of the Codex home: checked through its handle, read up to the cap, closed again (so it
    # can be replaced). Returns @{ path; exists; facts; security; bytes }.
    param([Parameter(Mandatory = $true)]$Walk, [Parameter(Mandatory = $true)][string]$Name, [int]$Cap, [Parameter(Mandatory = $true)]$Who)
    $path = $Walk.path + '\' + $Name
    $file = @{ path = $path; exists = $false; facts = $null; security = $null; bytes = $null }
    if ($null -eq $Walk.home) { return $file }
    $entry = Open-CodexEntry -Dir $Walk.home.handle -Path $path -Name $Name -Role 'file' -Access ([Bytes4096.Codex.P2.Native]::ReadData) -Who $Who
    if ($null -eq $entry) { return $file }
    try {
        if ($entry.facts.Size -gt $Cap) { throw "$path is larger than $Cap bytes; it is not read" }
        try { $file.bytes = [Bytes4096.Codex.P2.Native]::ReadAll($entry.handle, $Cap) }
        catch { throw "$path $(Get-CodexErrorText -ErrorRecord $_)" }
    }
    finally { $entry.handle.Dispose() }
    $file.exists = $true
    $file.facts = $entry.facts
    $file.security = $entry.security
    return $file
}

Function Write-CodexAtomic {
    # The one writer for files and backups: a temp file created in the same directory with the
    # private ACL, written and flushed, then renamed by handle over Name. With -Replace $false an
    # existing Name is kept and $false returned.
    param(
        [Parameter(Mandatory = $true)]$Walk, [Parameter(Mandatory = $true)][string]$Name,
        [Parameter(Mandatory = $true)][AllowEmptyCollection()][byte[]]$Bytes, [Parameter(Mandatory = $true)]$Who, [bool]$Replace
    )
    $dir = $Walk.home.handle
    $target = $Walk.path + '\' + $Name
    $tempName = [Bytes4096.Codex.P2.Rules]::TempName($Name, [System.Guid]::NewGuid())
    $descriptor = Get-CodexPrivateDescriptor -AccountSid $Who.sid -Directory $false
    $access = [Bytes4096.Codex.P2.Native]::WriteData -bor [Bytes4096.Codex.P2.Native]::Delete
    try { $handle = [Bytes4096.Codex.P2.Native]::OpenAt($dir, $tempName, $access, $true, $false, $false, $descriptor) }
    catch { throw "$target`: cannot create a temporary file: $(Get-CodexErrorText -ErrorRecord $_); nothing was changed" }
    $renamed = $false
    try {
        try {
            [Bytes4096.Codex.P2.Native]::WriteAll($handle, $Bytes)
            $renamed = [Bytes4096.Codex.P2.Native]::RenameAt($handle, $dir, $Name, $Replace)
        }
        catch { throw "$target`: $(Get-CodexErrorText -ErrorRecord $_); it was left as it was" }
    }
    finally {
        if (-not $renamed) { [Bytes4096.Codex.P2.Native]::DeleteByHandle($handle) }
        $handle.Dispose()
    }
    return $renamed
}

Function New-CodexBackup {
    # A private copy of Bytes as Name.<stamp>~ through the atomic writer, never over an existing name.
    param(
        [Parameter(Mandatory = $true)]$Walk, [Parameter(Mandatory = $true)][string]$Name,
        [Parameter(Mandatory = $true)][AllowEmptyCollection()][byte[]]$Bytes, [Parameter(Mandatory = $true)]$Who
    )
    $now = Get-Date
    for ($attempt = 0; $attempt -lt 100; $attempt++) {
        $backupName = [Bytes4096.Codex.P2.Rules]::BackupName($Name, $now, $attempt)
        if (Write-CodexAtomic -Walk $Walk -Name $backupName -Bytes $Bytes -Who $Who -Replace $false) {
            return $Walk.path + '\' + $backupName
        }
    }
    throw "$($Walk.path)\$Name`: no free backup name; nothing was changed"
}

Function Remove-CodexEntry {
    # Deletes one name of the Codex home by handle. The name is opened without following it, so a
    # link or junction is removed itself and its target is never touched.
    param([Parameter(Mandatory = $true)]$Walk, [Parameter(Mandatory = $true)][string]$Name)
    $path = $Walk.path + '\' + $Name
    try {
        $handle = [Bytes4096.Codex.P2.Native]::OpenAt($Walk.home.handle, $Name, [Bytes4096.Codex.P2.Native]::Delete, $false, $false, $false, $null)
        if ($null -eq $handle) { return $null }
        try {
            $facts = [Bytes4096.Codex.P2.Native]::Query($handle)
            $isRealDirectory = ($facts.Attributes -band [Bytes4096.Codex.P2.Rules]::AttrDirectory) -and -not ($facts.Attributes -band [Bytes4096.Codex.P2.Rules]::AttrReparsePoint)
            if ($isRealDirectory) { return $null }
            [Bytes4096.Codex.P2.Native]::DeleteByHandle($handle)
        }
        finally { $handle.Dispose() }
    }
    catch { throw "$path`: cannot remove it: $(Get-CodexErrorText -ErrorRecord $_)" }
    return $path
}

Function Get-CodexLeftoverSecurity {
    # The ACL of a key backup when it is a plain file of the account's (one link, no reparse point),
    # else $null: a leftover never makes a trip fail, and only plain files get their ACL repaired.
    param([Parameter(Mandatory = $true)]$Walk, [Parameter(Mandatory = $true)][string]$Name, [Parameter(Mandatory = $true)]$Who)
    try {
        $entry = Open-CodexEntry -Dir $Walk.home.handle -Path ($Walk.path + '\' + $Name) -Name $Name -Role 'file' -Access 0 -Who $Who
    }
    catch { return $null }
    if ($null -eq $entry) { return $null }
    $entry.handle.Dispose()
    return $entry.security
}

Function Enter-CodexLock {
    # A named mutex per Codex home, waited for at most TimeoutSeconds. An account cannot create or
    # hold a Global\ object (that needs SeCreateGlobalPrivilege), so it cannot stall this wait.
    param([Parameter(Mandatory = $true)][string]$HomePath, [Parameter(Mandatory = $true)][int]$TimeoutSeconds)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try { $digest = $sha.ComputeHash([System.Text.Encoding]::UTF8.GetBytes($HomePath.ToLowerInvariant())) }
    finally { $sha.Dispose() }
    $name = 'bytes4096-codex-' + ([System.BitConverter]::ToString($digest, 0, 16) -replace '-', '').ToLowerInvariant()
    try { $mutex = New-Object -TypeName System.Threading.Mutex -ArgumentList $false, "Global\$name" }
    catch {
        # no SeCreateGlobalPrivilege (a run as the account itself): the session's namespace
        if ((Get-CodexInnerException -ErrorRecord $_) -isnot [System.UnauthorizedAccessException]) { throw }
        $mutex = New-Object -TypeName System.Threading.Mutex -ArgumentList $false, "Local\$name"
    }
    try { $acquired = $mutex.WaitOne([System.TimeSpan]::FromSeconds([System.Math]::Max(0, $TimeoutSeconds))) }
    catch {
        # its holder died; both files are read again under the lock anyway
        if ((Get-CodexInnerException -ErrorRecord $_) -isnot [System.Threading.AbandonedMutexException]) { throw }
        $acquired = $true
    }
    if (-not $acquired) {
        $mutex.Dispose()
        throw "another run of codex_config holds the lock of $HomePath for more than lock_timeout=$TimeoutSeconds s; nothing was written"
    }
    return $mutex
}

# ---- auth.json ------------------------------------------------------------------------------------

Function ConvertFrom-CodexAuthBytes {
    # @{ obj = JsonObject or $null; error = @{ msg; line; column } or $null }; never any content.
    # JSON is read by the C# reader that follows Python's json module, not by ConvertFrom-Json
    # (Windows PowerShell's accepts single quotes and bare names, which Codex refuses).
    param([Parameter(Mandatory = $true)][AllowEmptyCollection()][byte[]]$Bytes)
    $read = [Bytes4096.Codex.P2.Auth]::Read($Bytes)
    if ($null -ne $read.Obj) { return @{ obj = $read.Obj; error = $null } }
    $line = if ($read.ErrorLine -gt 0) { $read.ErrorLine } else { $null }
    $column = if ($read.ErrorColumn -gt 0) { $read.ErrorColumn } else { $null }
    return @{ obj = $null; error = @{ msg = $read.ErrorMsg; line = $line; column = $column } }
}

Function ConvertTo-CodexAuthBytes {
    # UTF-8 as the POSIX side encodes it (a lone surrogate as with 'surrogatepass').
    param([Parameter(Mandatory = $true)][string]$Text)
    return , [Bytes4096.Codex.P2.Rules]::Utf8SurrogatePass($Text)
}

Function Get-CodexSha256 {
    param([Parameter(Mandatory = $true)][AllowEmptyCollection()][byte[]]$Bytes)
    $sha = [System.Security.Cryptography.SHA256]::Create()
    try { return ([System.BitConverter]::ToString($sha.ComputeHash($Bytes)) -replace '-', '').ToLowerInvariant() }
    finally { $sha.Dispose() }
}

Function Convert-CodexSecret {
    # The key as a string for the one moment it is written; it is never logged or returned.
    param([Parameter(Mandatory = $true)][SecureString]$Value)
    $bstr = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($Value)
    try { return [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($bstr) }
    finally { [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($bstr) }
}

# ---- the read trip --------------------------------------------------------------------------------

Function Get-CodexPathFacts {
    # The fields every path shares in read_response (home, config, auth).
    param([Parameter(Mandatory = $true)][string]$Path, $Facts, $Security, [Parameter(Mandatory = $true)]$Who, [string]$AclRole)
    $exists = $null -ne $Facts
    $type = $null
    $private = $null
    $owner = $null
    $links = $null
    if ($exists) {
        $type = if ($Facts.Attributes -band [Bytes4096.Codex.P2.Rules]::AttrDirectory) { 'directory' } else { 'file' }
        $private = $null -eq (Get-CodexAclRepair -Role $AclRole -Security $Security -Who $Who)
        $owner = $Security.owner_name
        $links = [int]$Facts.Links
    }
    return [ordered]@{
        path = $Path; exists = $exists; type = $type; is_link = $false; link_target = $null; real_path = $Path
        mode = $null; uid = $null; gid = $null; nlink = $links; owner = $owner; private = $private
    }
}

Function Add-CodexLooseAcl {
    param($List, [string]$Path, $Security, [string]$Role, $Who)
    $problem = Get-CodexAclRepair -Role $Role -Security $Security -Who $Who
    if ($null -eq $problem) { return }
    $List.Add((New-CodexMessage -Kind 'read_response.loose_modes[]' -Fields ([ordered]@{
                    path = $Path
                    mode = "ACL $problem"
                    wanted = "ACL: $($Who.name), SYSTEM and Administrators only"
                })))
}

Function Invoke-CodexRead {
    param([Parameter(Mandatory = $true)]$ReadRequest)
    if ($null -ne $ReadRequest.group) { throw 'group is a POSIX option; on Windows the files get an ACL for the owner, SYSTEM and Administrators only' }
    if ($null -ne $ReadRequest.config_mode) { throw 'config_mode is a POSIX option; on Windows the files get an ACL for the owner, SYSTEM and Administrators only' }
    $who = Resolve-CodexAccount -Owner $ReadRequest.owner
    $split = Resolve-CodexHomePath -Raw $ReadRequest.codex_home -Who $who
    $walk = Open-CodexHome -Parts $split -Who $who -HomeAccess 0
    try {
        $leftovers = New-Object -TypeName 'System.Collections.Generic.List[object]'
        $loose = New-Object -TypeName 'System.Collections.Generic.List[object]'
        $homeEntry = $walk.home
        $homeFacts = Get-CodexPathFacts -Path $walk.path -Facts $null -Security $null -Who $who -AclRole 'home'
        if ($null -ne $homeEntry) {
            $homeFacts = Get-CodexPathFacts -Path $walk.path -Facts $homeEntry.facts -Security $homeEntry.security -Who $who -AclRole 'home'
        }
        $homeFacts['parent_exists'] = $walk.parent_exists
        $homeFacts['create_as'] = $(if ($null -ne $homeEntry) { $null } elseif ($who.access -eq 'self') { 'account' } else { 'root' })
        if ($null -ne $homeEntry) {
            Add-CodexLooseAcl -List $loose -Path $walk.path -Security $homeEntry.security -Role 'home' -Who $who
            foreach ($name in [Bytes4096.Codex.P2.Native]::List($homeEntry.handle)) {
                $kind = Get-CodexLeftoverKind -Name $name
                if ($null -eq $kind) { continue }
                $leftovers.Add((New-CodexMessage -Kind 'read_response.leftovers[]' -Fields ([ordered]@{ name = $name; kind = $kind; mode = $null })))
                if ($kind -eq 'auth_backup') {
                    $security = Get-CodexLeftoverSecurity -Walk $walk -Name $name -Who $who
                    if ($null -ne $security) { Add-CodexLooseAcl -List $loose -Path ($walk.path + '\' + $name) -Security $security -Role 'file' -Who $who }
                }
            }
        }

        $config = Read-CodexFile -Walk $walk -Name $CodexConfigName -Cap $CodexMaxConfigBytes -Who $who
        $configFacts = Get-CodexPathFacts -Path $config.path -Facts $config.facts -Security $config.security -Who $who -AclRole 'file'
        $configFacts['size'] = $null; $configFacts['sha256'] = $null; $configFacts['text'] = $null; $configFacts['error'] = $null
        if ($config.exists) {
            $configFacts['size'] = $config.bytes.Length
            $configFacts['sha256'] = Get-CodexSha256 -Bytes $config.bytes
            $bad = [Bytes4096.Codex.P2.Rules]::Utf8ErrorLineColumn($config.bytes)
            if ($null -eq $bad) { $configFacts['text'] = $CodexUtf8.GetString($config.bytes) }
            else {
                $configFacts['error'] = New-CodexMessage -Kind 'read_response.config.error' -Fields ([ordered]@{
                        msg = 'not valid UTF-8'; line = $bad[0]; column = $bad[1]
                    })
            }
            Add-CodexLooseAcl -List $loose -Path $config.path -Security $config.security -Role 'file' -Who $who
        }

        $authFacts = $null
        if ($ReadRequest.want_auth) {
            $auth = Read-CodexFile -Walk $walk -Name $CodexAuthName -Cap $CodexMaxAuthBytes -Who $who
            $authFacts = Get-CodexPathFacts -Path $auth.path -Facts $auth.facts -Security $auth.security -Who $who -AclRole 'file'
            foreach ($name in @('size', 'sha256', 'valid', 'error', 'fields', 'auth_mode', 'key_present', 'key_fingerprint', 'unreadable_fields')) { $authFacts[$name] = $null }
            $authFacts['tokens'] = 'absent'
            $authFacts['credentials'] = 'none'
            if ($auth.exists) {
                $authFacts['size'] = $auth.bytes.Length
                $authFacts['sha256'] = Get-CodexSha256 -Bytes $auth.bytes
                $parsed = ConvertFrom-CodexAuthBytes -Bytes $auth.bytes
                $authFacts['valid'] = $null -eq $parsed.error
                $authFacts['tokens'] = $null
                if ($null -ne $parsed.error) {
                    $authFacts['error'] = New-CodexMessage -Kind 'read_response.auth.error' -Fields ([ordered]@{
                            msg = $parsed.error.msg; line = $parsed.error.line; column = $parsed.error.column
                        })
                    $authFacts['credentials'] = 'unreadable'
                }
                else {
                    $obj = $parsed.obj
                    $storedKey = [Bytes4096.Codex.P2.Auth]::StoredKey($obj)
                    $authFacts['fields'] = [string[]][Bytes4096.Codex.P2.Auth]::FieldNames($obj)
                    $authFacts['auth_mode'] = [Bytes4096.Codex.P2.Auth]::Text($obj, 'auth_mode')
                    $authFacts['key_present'] = -not [string]::IsNullOrEmpty($storedKey)
                    $authFacts['key_fingerprint'] = $(if ($authFacts['key_present']) { Get-CodexFingerprint -Key $storedKey } else { $null })
                    $authFacts['tokens'] = Get-CodexTokensState -Auth $obj
                    $authFacts['unreadable_fields'] = [string[]][Bytes4096.Codex.P2.Auth]::UnreadableFields($obj)
                    $authFacts['credentials'] = Get-CodexCredentials -Auth $obj
                }
                Add-CodexLooseAcl -List $loose -Path $auth.path -Security $auth.security -Role 'file' -Who $who
            }
            $authFacts = New-CodexMessage -Kind 'read_response.auth' -Fields $authFacts
        }

        return New-CodexMessage -Kind 'read_response' -Fields ([ordered]@{
                protocol = $CodexProtocol
                platform = 'windows'
                access = $who.access
                euid = $null
                account = (New-CodexMessage -Kind 'read_response.account' -Fields ([ordered]@{
                            name = $who.name; uid = $null; gid = $null; home = $who.home; sid = $who.sid
                        }))
                group_gid = $null
                home = (New-CodexMessage -Kind 'read_response.home' -Fields $homeFacts)
                config = (New-CodexMessage -Kind 'read_response.config' -Fields $configFacts)
                auth = $authFacts
                leftovers = [object[]]$leftovers.ToArray()
                loose_modes = [object[]]$loose.ToArray()
            })
    }
    finally { Close-CodexHandles -Walk $walk }
}

# ---- the write trip -------------------------------------------------------------------------------

Function New-CodexWritten {
    # The write_response, filled in as the trip goes (also sent when it fails part-way).
    param([Parameter(Mandatory = $true)][string]$Access)
    return New-CodexMessage -Kind 'write_response' -Fields ([ordered]@{
            protocol = $CodexProtocol
            access = $Access
            home_created = $false
            config = (New-CodexMessage -Kind 'write_response.config' -Fields ([ordered]@{
                        changed = $false; content_changed = $false; backup_file = $null
                    }))
            auth = (New-CodexMessage -Kind 'write_response.auth' -Fields ([ordered]@{
                        changed = $false; content_changed = $false; backup_file = $null; tokens_backed_up = $false
                        dropped_fields = [string[]]@(); exists = $null; key_fingerprint = $null; auth_mode = $null; credentials = $null
                    }))
            repaired = (New-Object -TypeName 'System.Collections.Generic.List[string]')
            removed_files = (New-Object -TypeName 'System.Collections.Generic.List[string]')
        })
}

Function Get-CodexRepairText {
    param([string]$Path, [string]$Problem, $Who)
    return "$Path`: ACL $Problem -> $($Who.name), SYSTEM and Administrators only"
}

Function Invoke-CodexWrite {
    param([Parameter(Mandatory = $true)]$WriteRequest, [AllowNull()][SecureString]$Key, [Parameter(Mandatory = $true)]$Written)
    if ($null -ne $WriteRequest.group) { throw 'group is a POSIX option; on Windows the files get an ACL for the owner, SYSTEM and Administrators only' }
    if ($null -ne $WriteRequest.config_mode) { throw 'config_mode is a POSIX option; on Windows the files get an ACL for the owner, SYSTEM and Administrators only' }
    $who = Resolve-CodexAccount -Owner $WriteRequest.owner
    $Written.access = $who.access
    $split = [Bytes4096.Codex.P2.Rules]::SplitAbsolute($WriteRequest.codex_home)
    if ($null -eq $split) { throw 'write_request.codex_home must be the resolved absolute path' }
    $split = Resolve-CodexHomePath -Raw $WriteRequest.codex_home -Who $who
    $homeAccess = [Bytes4096.Codex.P2.Native]::WriteDac
    $walk = Open-CodexHome -Parts $split -Who $who -HomeAccess $homeAccess
    $mutex = $null
    try {
        if ($null -eq $walk.home) {
            if (-not $WriteRequest.create_home) { throw "codex_home $($walk.path) does not exist; nothing was written" }
            if (-not $walk.parent_exists) { throw "the parent directory of $($walk.path) does not exist; nothing was written" }
            $descriptor = Get-CodexPrivateDescriptor -AccountSid $who.sid -Directory $true
            $access = [Bytes4096.Codex.P2.Native]::ReadData -bor $homeAccess
            try { $created = [Bytes4096.Codex.P2.Native]::OpenAt($walk.parent, $split[$split.Length - 1], $access, $true, $true, $false, $descriptor) }
            catch { throw "cannot create $($walk.path): $(Get-CodexErrorText -ErrorRecord $_); nothing was written" }
            $walk.handles.Add($created)
            $facts = [Bytes4096.Codex.P2.Native]::Query($created)
            $walk.home = @{ handle = $created; facts = $facts; security = (Get-CodexSecurity -Descriptor $facts.Security); path = $walk.path }
            $Written.home_created = $true
        }
        $mutex = Enter-CodexLock -HomePath $walk.path -TimeoutSeconds $WriteRequest.lock_timeout

        # 1. re-read both files under the lock and decide everything before writing anything
        $configReq = $WriteRequest.config
        $config = Read-CodexFile -Walk $walk -Name $CodexConfigName -Cap $CodexMaxConfigBytes -Who $who
        $configNew = $null
        if ($null -ne $configReq.text) {
            $new = $CodexUtf8.GetBytes($configReq.text)
            $currentSha = if ($config.exists) { Get-CodexSha256 -Bytes $config.bytes } else { $null }
            if ($currentSha -eq (Get-CodexSha256 -Bytes $new)) { $configNew = $null }  # already what we want
            elseif ($currentSha -ne $configReq.expect_sha256) {
                throw "$($config.path) changed on the host while this task ran (another run?); nothing was written, run the task again"
            }
            else { $configNew = $new }
        }

        $authReq = $WriteRequest.auth
        $auth = $null
        $authNew = $null
        $authDelete = $false
        $authBackup = $false
        $dropped = $false
        if ($null -ne $authReq) {
            $auth = Read-CodexFile -Walk $walk -Name $CodexAuthName -Cap $CodexMaxAuthBytes -Who $who
            $op = $authReq.op
            $parsed = if ($auth.exists) { ConvertFrom-CodexAuthBytes -Bytes $auth.bytes } else { @{ obj = $null; error = $null } }
            if ($null -ne $op -and $null -ne $parsed.error) {
                if (-not $authReq.force) {
                    $fix = if ($WriteRequest.state -eq 'absent') { 'deletes it' } else { 'replaces it after a private backup' }
                    throw "$($auth.path): $($parsed.error.msg); nothing was written (force=true $fix)"
                }
                $parsed.obj = $null
            }
            $obj = $parsed.obj
            $stored = [Bytes4096.Codex.P2.Auth]::StoredKey($obj)
            $droppedFields = New-Object -TypeName 'System.Collections.Generic.List[string]'
            if ($op -eq 'set') {
                if ($null -eq $Key) { throw 'internal error: the write trip sets the key but got none' }
                $plainKey = Convert-CodexSecret -Value $Key
                if (-not [Bytes4096.Codex.P2.Auth]::AlreadySet($obj, $plainKey)) {
                    $authNew = ConvertTo-CodexAuthBytes -Text ([Bytes4096.Codex.P2.Auth]::NewText($obj, $plainKey, 'set', $droppedFields))
                    $dropped = $droppedFields.Count -gt 0
                    $authBackup = $auth.exists -and ($authReq.backup -or $null -ne $parsed.error -or $dropped)
                }
                $plainKey = $null
            }
            elseif ($op -eq 'remove' -and $auth.exists) {
                if ($null -ne $parsed.error) { $authDelete = $true }  # force: a corrupt file may hold a key
                elseif ($authReq.only_fingerprint -and (Get-CodexFingerprint -Key $stored) -cne $authReq.only_fingerprint) { $authDelete = $false }
                elseif ([Bytes4096.Codex.P2.Auth]::HasApiKeyState($obj)) {
                    $text = [Bytes4096.Codex.P2.Auth]::NewText($obj, $null, 'remove', $droppedFields)
                    if ($null -eq $text) { $authDelete = $true } else { $authNew = ConvertTo-CodexAuthBytes -Text $text }
                }
            }
            if ($WriteRequest.state -eq 'absent') { $authBackup = $false }  # offboarding never copies a key
        }

        # 2. temp files of earlier runs (a kill mid-write) and the Codex home's ACL, under the lock
        foreach ($name in [Bytes4096.Codex.P2.Native]::List($walk.home.handle)) {
            if ((Get-CodexLeftoverKind -Name $name) -eq 'temp') {
                $removed = Remove-CodexEntry -Walk $walk -Name $name
                if ($null -ne $removed) { $Written.removed_files.Add($removed) }
            }
        }
        if (-not $Written.home_created) {
            $problem = Get-CodexAclRepair -Role 'home' -Security $walk.home.security -Who $who
            if ($null -ne $problem) {
                try { [Bytes4096.Codex.P2.Native]::SetProtectedDacl($walk.home.handle, (Get-CodexPrivateDescriptor -AccountSid $who.sid -Directory $true)) }
                catch { throw "$($walk.path): cannot set its ACL: $(Get-CodexErrorText -ErrorRecord $_)" }
                $Written.repaired.Add((Get-CodexRepairText -Path $walk.path -Problem $problem -Who $who))
            }
        }

        # 3. config.toml, then auth.json, each through the atomic writer
        if ($null -ne $configNew) {
            if ($config.exists -and $configReq.backup) {
                $Written.config.backup_file = New-CodexBackup -Walk $walk -Name $CodexConfigName -Bytes $config.bytes -Who $who
            }
            [void](Write-CodexAtomic -Walk $walk -Name $CodexConfigName -Bytes $configNew -Who $who -Replace $true)
            $Written.config.changed = $true
            $Written.config.content_changed = $true
            if ($config.exists) {
                $problem = Get-CodexAclRepair -Role 'file' -Security $config.security -Who $who
                if ($null -ne $problem) { $Written.repaired.Add((Get-CodexRepairText -Path $config.path -Problem $problem -Who $who)) }
            }
        }
        elseif ($config.exists) {
            $problem = Get-CodexAclRepair -Role 'file' -Security $config.security -Who $who
            if ($null -ne $problem) {
                [void](Write-CodexAtomic -Walk $walk -Name $CodexConfigName -Bytes $config.bytes -Who $who -Replace $true)
                $Written.repaired.Add((Get-CodexRepairText -Path $config.path -Problem $problem -Who $who))
                $Written.config.changed = $true
            }
        }

        if ($null -ne $auth) {
            if ($authBackup) {
                $Written.auth.backup_file = New-CodexBackup -Walk $walk -Name $CodexAuthName -Bytes $auth.bytes -Who $who
                $Written.auth.dropped_fields = [string[]]$droppedFields.ToArray()
                $Written.auth.tokens_backed_up = $dropped
            }
            if ($null -ne $authNew) {
                [void](Write-CodexAtomic -Walk $walk -Name $CodexAuthName -Bytes $authNew -Who $who -Replace $true)
                $authNew = $null
                $Written.auth.changed = $true
                $Written.auth.content_changed = $true
                if ($auth.exists) {
                    $problem = Get-CodexAclRepair -Role 'file' -Security $auth.security -Who $who
                    if ($null -ne $problem) { $Written.repaired.Add((Get-CodexRepairText -Path $auth.path -Problem $problem -Who $who)) }
                }
            }
            elseif ($authDelete) {
                $removed = Remove-CodexEntry -Walk $walk -Name $CodexAuthName
                if ($null -ne $removed) { $Written.removed_files.Add($removed) }
                $Written.auth.changed = $true
                $Written.auth.content_changed = $true
            }
            elseif ($auth.exists) {
                $problem = Get-CodexAclRepair -Role 'file' -Security $auth.security -Who $who
                if ($null -ne $problem) {
                    [void](Write-CodexAtomic -Walk $walk -Name $CodexAuthName -Bytes $auth.bytes -Who $who -Replace $true)
                    $Written.repaired.Add((Get-CodexRepairText -Path $auth.path -Problem $problem -Who $who))
                    $Written.auth.changed = $true
                }
            }
        }

        # 4. key backups: private, or gone when offboarding
        foreach ($name in [Bytes4096.Codex.P2.Native]::List($walk.home.handle)) {
            if ((Get-CodexLeftoverKind -Name $name) -ne 'auth_backup') { continue }
            if ($WriteRequest.purge_key_backups) {
                $removed = Remove-CodexEntry -Walk $walk -Name $name
                if ($null -ne $removed) { $Written.removed_files.Add($removed) }
                continue
            }
            $security = Get-CodexLeftoverSecurity -Walk $walk -Name $name -Who $who
            if ($null -eq $security) { continue }
            $problem = Get-CodexAclRepair -Role 'file' -Security $security -Who $who
            if ($null -ne $problem) {
                $backup = Read-CodexFile -Walk $walk -Name $name -Cap $CodexMaxAuthBytes -Who $who
                if (-not $backup.exists) { continue }
                [void](Write-CodexAtomic -Walk $walk -Name $name -Bytes $backup.bytes -Who $who -Replace $true)
                $Written.repaired.Add((Get-CodexRepairText -Path $backup.path -Problem $problem -Who $who))
            }
        }

        # 5. what is on disk now
        if ($null -ne $authReq) {
            $after = Read-CodexFile -Walk $walk -Name $CodexAuthName -Cap $CodexMaxAuthBytes -Who $who
            $Written.auth.exists = $after.exists
            $Written.auth.credentials = 'none'
            if ($after.exists) {
                $parsed = ConvertFrom-CodexAuthBytes -Bytes $after.bytes
                $Written.auth.credentials = 'unreadable'
                if ($null -eq $parsed.error) {
                    $storedKey = [Bytes4096.Codex.P2.Auth]::StoredKey($parsed.obj)
                    $Written.auth.key_fingerprint = $(if ($storedKey) { Get-CodexFingerprint -Key $storedKey } else { $null })
                    $Written.auth.auth_mode = [Bytes4096.Codex.P2.Auth]::Text($parsed.obj, 'auth_mode')
                    $Written.auth.credentials = Get-CodexCredentials -Auth $parsed.obj
                }
            }
        }
    }
    finally {
        if ($null -ne $mutex) {
            $mutex.ReleaseMutex()
            $mutex.Dispose()
        }
        Close-CodexHandles -Walk $walk
    }
}

Function ConvertTo-CodexPlain {
    # The write_response as plain data for $Ansible.Result (lists as arrays).
    param([Parameter(Mandatory = $true)]$Written)
    if ($Written.repaired -isnot [System.Collections.Generic.List[string]]) { return $Written }
    $Written.repaired = [string[]]$Written.repaired.ToArray()
    $Written.removed_files = [string[]]@($Written.removed_files.ToArray() | Sort-Object -Unique)
    return $Written
}

# ---- main -----------------------------------------------------------------------------------------

$written = $null
try {
    Import-CodexNative
    try { $decoded = [Bytes4096.Codex.P2.Json]::Parse($RequestJson) }
    catch { throw "the $Phase request is not valid JSON: $(Get-CodexErrorText -ErrorRecord $_)" }
    if ($Phase -eq 'read') {
        $Ansible.Changed = $false
        $state = Invoke-CodexRead -ReadRequest (ConvertFrom-CodexRequest -Value $decoded -Kind 'read_request')
        $Ansible.Result = @{ state = $state }
    }
    else {
        if ($Ansible.CheckMode) { throw 'internal error: write trip requested in check mode' }
        $request = ConvertFrom-CodexRequest -Value $decoded -Kind 'write_request'
        $written = New-CodexWritten -Access 'root'
        $null = Invoke-CodexWrite -WriteRequest $request -Key $Secret -Written $written
        $Ansible.Changed = $written.config.changed -or $written.auth.changed -or $written.home_created -or $written.repaired.Count -gt 0 -or $written.removed_files.Count -gt 0
        $Ansible.Result = @{ written = (ConvertTo-CodexPlain -Written $written) }
    }
}
catch {
    $Ansible.Failed = $true
    $partial = $null
    if ($null -ne $written) { $partial = ConvertTo-CodexPlain -Written $written }
    $Ansible.Changed = $null -ne $partial -and ($partial.config.changed -or $partial.auth.changed -or $partial.home_created)
    $Ansible.Result = @{ msg = (Get-CodexErrorText -ErrorRecord $_); written = $partial }
}
