using System.ComponentModel;
using System.Runtime.InteropServices;

namespace Keys.Testing;

/// <summary>
/// POSIX signals to a process, and what <c>/proc</c> says about it (Linux only, like the local infrastructure the
/// tests and benchmarks run on). Fault tests and benchmarks use them on processes the app model started, and only after
/// checking which program the process runs (<see cref="KeysHost.ProcessIdAsync"/>): the machine is shared, and a wrong
/// pid would hurt someone else's work.
/// </summary>
public static class ProcessSignals
{
    /// <summary>Ends a process at once: no graceful shutdown, its sockets are closed by the kernel.</summary>
    public const int Kill = 9;

    /// <summary>Resumes a stopped process.</summary>
    public const int Continue = 18;

    /// <summary>
    /// Suspends a process: its sockets stay open and the kernel still accepts connections for it, but nothing is
    /// answered. That is what a stalled server looks like to its clients, unlike a stopped one.
    /// </summary>
    public const int Stop = 19;

    private const int NoSuchProcess = 3;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>, or throws.</summary>
    public static void Send(int pid, int signal)
    {
        if (!TrySend(pid, signal, out var error))
        {
            throw new Win32Exception(error, $"kill({pid}, {signal}) failed");
        }
    }

    /// <summary>Sends <paramref name="signal"/> unless the process is gone already; throws on any other failure.</summary>
    public static bool SendIfAlive(int pid, int signal)
    {
        if (TrySend(pid, signal, out var error))
        {
            return true;
        }

        return error == NoSuchProcess ? false : throw new Win32Exception(error, $"kill({pid}, {signal}) failed");
    }

    /// <summary>The program a process runs (the target of <c>/proc/PID/exe</c>), or null when it is gone.</summary>
    public static string? Program(int pid)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/exe").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>The arguments a process was started with, program first; empty when it is gone.</summary>
    public static IReadOnlyList<string> CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>The direct children of a process.</summary>
    public static IReadOnlyList<int> Children(int pid)
    {
        try
        {
            return [.. Directory.EnumerateDirectories($"/proc/{pid}/task")
                .SelectMany(task => File.ReadAllText(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(child => int.Parse(child, System.Globalization.CultureInfo.InvariantCulture))];
        }
        catch (IOException)
        {
            return [];
        }
    }

    /// <summary>True while the process exists and is not a zombie waiting for its parent.</summary>
    public static bool IsAlive(int pid) => State(pid) is not ('Z' or 'X' or null);

    /// <summary>The state letter <c>/proc</c> shows (R running, S sleeping, T stopped, Z zombie, …); null when it is gone.</summary>
    public static char? State(int pid)
    {
        try
        {
            // The state is the field after the command name, which is in parentheses and may itself hold spaces.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2];
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static bool TrySend(int pid, int signal, out int error)
    {
        if (pid <= 1)
        {
            // 0 and -1 would signal whole process groups; 1 is init. Never what a test means.
            throw new ArgumentOutOfRangeException(nameof(pid), pid, "Refusing to signal a process group or init.");
        }

        var result = kill(pid, signal);
        error = result == 0 ? 0 : Marshal.GetLastPInvokeError();
        return result == 0;
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
