// Test driver: calls the static methods of Bytes4096.Codex.P2 (the C# embedded in
// _codex_config_windows.ps1) by reflection, one call per input line, so the Python tests can run the
// Windows side's decisions. Line: Method or Class.Method (default class Rules)<TAB>arg<TAB>arg...;
// an argument is ~ (null), h:<UTF-16 code units, four hex digits each> (string), a plain number or true/false, or a comma-separated list of those (arrays; an empty array is []).
// Answer: ~, h:<hex>, true/false, a number, [a,b,...] (string arrays) or !<error>.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Reflection;
using System.Text;

public static class RulesDriver
{
    // Strings travel as UTF-16 code units in hex, so lone surrogates survive the trip.
    static string Decode(string token)
    {
        if (token == "~") { return null; }
        StringBuilder text = new StringBuilder();
        for (int i = 2; i < token.Length; i += 4) { text.Append((char)Convert.ToInt32(token.Substring(i, 4), 16)); }
        return text.ToString();
    }

    static string Encode(string text)
    {
        if (text == null) { return "~"; }
        StringBuilder hex = new StringBuilder("h:");
        foreach (char c in text) { hex.Append(((int)c).ToString("x4")); }
        return hex.ToString();
    }

    static object Convert1(string token, Type type)
    {
        if (type == typeof(string)) { return Decode(token); }
        if (type == typeof(bool)) { return token == "true"; }
        if (type == typeof(int)) { return int.Parse(token, CultureInfo.InvariantCulture); }
        if (type == typeof(uint)) { return uint.Parse(token, CultureInfo.InvariantCulture); }
        if (type == typeof(byte)) { return byte.Parse(token, CultureInfo.InvariantCulture); }
        if (type == typeof(DateTime)) { return DateTime.ParseExact(Decode(token), "yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture); }
        if (type == typeof(Guid)) { return new Guid(Decode(token)); }
        if (type.IsArray)
        {
            Type element = type.GetElementType();
            string[] items = token == "[]" ? new string[0] : token.Split(',');
            Array array = Array.CreateInstance(element, items.Length);
            for (int i = 0; i < items.Length; i++) { array.SetValue(Convert1(items[i], element), i); }
            return array;
        }
        throw new ArgumentException("unsupported parameter type " + type);
    }

    static string Answer(object value)
    {
        if (value == null) { return "~"; }
        if (value is string) { return Encode((string)value); }
        if (value is bool) { return (bool)value ? "true" : "false"; }
        if (value is string[])
        {
            List<string> parts = new List<string>();
            foreach (string item in (string[])value) { parts.Add(Encode(item)); }
            return "[" + string.Join(",", parts.ToArray()) + "]";
        }
        return Convert.ToString(value, CultureInfo.InvariantCulture);
    }

    public static int Main()
    {
        Assembly assembly = typeof(Bytes4096.Codex.P2.Rules).Assembly;
        string line;
        while ((line = Console.In.ReadLine()) != null)
        {
            string[] parts = line.Split('\t');
            try
            {
                if (parts[0] == "SizeOf")
                {
                    // the size of a native structure of the Native class (its P/Invoke layout)
                    Type native = assembly.GetType("Bytes4096.Codex.P2.Native+" + Decode(parts[1]), true);
                    Console.Out.WriteLine(System.Runtime.InteropServices.Marshal.SizeOf(native).ToString(CultureInfo.InvariantCulture));
                    Console.Out.Flush();
                    continue;
                }
                MethodInfo method = null;
                string[] name = parts[0].Split('.');
                Type owner = assembly.GetType("Bytes4096.Codex.P2." + (name.Length > 1 ? name[0] : "Rules"), true);
                foreach (MethodInfo candidate in owner.GetMethods(BindingFlags.Public | BindingFlags.Static))
                {
                    if (candidate.Name == name[name.Length - 1] && candidate.GetParameters().Length == parts.Length - 1) { method = candidate; }
                }
                if (method == null) { throw new MissingMethodException(parts[0]); }
                ParameterInfo[] parameters = method.GetParameters();
                object[] args = new object[parameters.Length];
                for (int i = 0; i < parameters.Length; i++) { args[i] = Convert1(parts[i + 1], parameters[i].ParameterType); }
                Console.Out.WriteLine(Answer(method.Invoke(null, args)));
                Console.Out.Flush();
            }
            catch (Exception exc)
            {
                Exception inner = exc is TargetInvocationException && exc.InnerException != null ? exc.InnerException : exc;
                Console.Out.WriteLine("!" + inner.GetType().Name + ": " + inner.Message.Replace("\n", " "));
                Console.Out.Flush();
            }
        }
        return 0;
    }
}
