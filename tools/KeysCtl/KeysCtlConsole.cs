using System.Collections;
using Spectre.Console;

namespace Keys.KeysCtl;

/// <summary>
/// Everything keysctl takes from the process it runs in, so that tests run it in-process: its streams, its
/// environment variables, the clock, and (for tests) the HTTP handler that stands in for KeyAdmin.
/// </summary>
public sealed record KeysCtlConsole(
    TextWriter Out,
    TextWriter Error,
    TextReader In,
    IReadOnlyDictionary<string, string?> Environment)
{
    /// <summary>Standard input is a pipe or a file: <c>login</c> reads the token from it instead of prompting.</summary>
    public bool InputRedirected { get; init; } = true;

    /// <summary>Standard output is a terminal: tables get borders and colour; piped, they are plain columns.</summary>
    public bool OutputIsTerminal { get; init; }

    /// <summary>Asks for a secret on the terminal without echoing it; null where there is no terminal to ask on.</summary>
    public Func<string, string>? PromptSecret { get; init; }

    public TimeProvider Clock { get; init; } = TimeProvider.System;

    /// <summary>Replaces the network (tests); null: a real connection to KeyAdmin.</summary>
    public HttpMessageHandler? Handler { get; init; }

    /// <summary>Whether Ctrl+C and SIGTERM cancel the running call (the real process only: tests share their process).</summary>
    public bool HandlesTermination { get; init; }

    public string? GetVariable(string name) =>
        Environment.TryGetValue(name, out var value) && !string.IsNullOrEmpty(value) ? value : null;

    public static KeysCtlConsole FromSystem()
    {
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
        {
            variables[(string)entry.Key] = entry.Value as string;
        }

        return new KeysCtlConsole(Console.Out, Console.Error, Console.In, variables)
        {
            InputRedirected = Console.IsInputRedirected,
            OutputIsTerminal = !Console.IsOutputRedirected,
            HandlesTermination = true,
            PromptSecret = Console.IsInputRedirected ? null : PromptOnTerminal,
        };
    }

    // The prompt goes to stderr, so that stdout carries only the command's result even when it is captured.
    private static string PromptOnTerminal(string prompt)
    {
        var terminal = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        return terminal.Prompt(new TextPrompt<string>(Markup.Escape(prompt)).Secret(null));
    }
}
