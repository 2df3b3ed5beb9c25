using System.CommandLine;
using System.CommandLine.Invocation;
using Keys.KeysCtl.Commands;

namespace Keys.KeysCtl;

/// <summary>keysctl as a function of its arguments and its console, returning the exit code (<see cref="ExitCodes"/>).</summary>
public static class KeysCtlApp
{
    public static async Task<int> RunAsync(IReadOnlyList<string> args, KeysCtlConsole console, CancellationToken cancellationToken = default)
    {
        var root = new Cli(console).BuildRoot();
        var parsed = root.Parse(args);

        // Help and --version clear parse errors and run as usual; anything else with an error is a usage error, reported
        // here (not by the library, whose exit code is 1) so that it exits 2 before anything is sent.
        if (parsed.Action is ParseErrorAction)
        {
            var command = CommandPath(parsed.CommandResult.Command);
            if (parsed.UnmatchedTokens.Count > 0 && SecretReaders.TryGetValue(command, out var secret))
            {
                await console.Error.WriteLineAsync(
                    $"error: {command[(Cli.Name.Length + 1)..]} takes no {secret} on the command line, where shell history and ps would keep it: pipe it in, or type it at the prompt");
            }

            foreach (var error in parsed.Errors)
            {
                await console.Error.WriteLineAsync($"error: {Sanitize.Line(Redact(error.Message, args))}");
            }

            await console.Error.WriteLineAsync($"Run '{command} --help' for usage.");
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(
            new InvocationConfiguration
            {
                Output = console.Out,
                Error = console.Error,
                // Each action reports its own failures (Cli.Run); anything else is a bug, and its stack trace says where.
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = console.HandlesTermination ? TimeSpan.FromSeconds(2) : null,
            },
            cancellationToken);
    }

    /// <summary>The commands that read a secret from stdin, and what they read: given one as an argument, they say how instead.</summary>
    private static readonly Dictionary<string, string> SecretReaders = new(StringComparer.Ordinal)
    {
        [$"{Cli.Name} login"] = "token",
        [$"{Cli.Name} keys find"] = "key",
    };

    /// <summary>
    /// A parse error repeats the argument it could not place, and a misplaced argument may be a token or a key (pasted
    /// where an option was meant): stderr often ends up in CI logs, so such an argument is shown by its start only.
    /// </summary>
    private static string Redact(string message, IReadOnlyList<string> args)
    {
        foreach (var arg in args.Where(LooksLikeASecret).Distinct())
        {
            message = message.Replace(arg, $"{arg[..6]}…", StringComparison.Ordinal);
        }

        return message;
    }

    private static bool LooksLikeASecret(string arg) =>
        arg.Length >= 16 && !arg.StartsWith('-') && arg.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
        && (arg.StartsWith("op_", StringComparison.Ordinal) || arg.StartsWith("sk_", StringComparison.Ordinal)
            || arg.StartsWith("pk_", StringComparison.Ordinal) || arg.Length >= 32);

    private static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? symbol = command; symbol is Command current; symbol = current.Parents.FirstOrDefault())
        {
            names.Insert(0, current is RootCommand ? Cli.Name : current.Name);
        }

        return string.Join(' ', names);
    }
}
