namespace Keys.KeysCtl.Commands;

/// <summary>
/// A value that must stay out of shell history and <c>ps</c> (an operator token, an API key): read from stdin when it is
/// piped, else asked for on the terminal without echo, never taken from the command line.
/// </summary>
public static class SecretInput
{
    /// <param name="what">What is asked for ("token", "key"), in the messages.</param>
    /// <param name="command">The command, for the hint that says how to pipe it in.</param>
    public static async Task<string> ReadAsync(
        KeysCtlConsole console, string prompt, string what, string command, CancellationToken cancellationToken)
    {
        string? value;
        if (console.InputRedirected)
        {
            value = (await console.In.ReadToEndAsync(cancellationToken)).Trim();
        }
        else if (console.PromptSecret is { } ask)
        {
            value = ask(prompt).Trim();
        }
        else
        {
            throw new KeysCtlException($"no {what}: there is no terminal to ask on", $"pipe it in: {command} < {what}-file");
        }

        if (string.IsNullOrEmpty(value))
        {
            throw new KeysCtlException($"no {what} was given", $"pipe it in ({command} < {what}-file) or type it at the prompt");
        }

        if (value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            // Not echoed: it may be most of a real secret.
            throw new KeysCtlException($"the {what} contains spaces or line breaks: give one {what}, on one line");
        }

        return value;
    }
}
