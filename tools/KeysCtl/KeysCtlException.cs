namespace Keys.KeysCtl;

/// <summary>
/// A failure keysctl reports as <c>error: message</c> on stderr, with exit code <see cref="ExitCode"/> (1 unless said).
/// Never carries a secret.
/// </summary>
public class KeysCtlException(string message, string? hint = null, int exitCode = ExitCodes.Error) : Exception(message)
{
    /// <summary>What the user can do about it, printed on a line of its own.</summary>
    public string? Hint => hint;

    /// <summary>What keysctl exits with (<see cref="ExitCodes"/>).</summary>
    public int ExitCode => exitCode;
}
