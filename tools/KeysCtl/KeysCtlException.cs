namespace Keys.KeysCtl;

/// <summary>A failure keysctl reports as <c>error: message</c> on stderr, with exit code 1. Never carries a secret.</summary>
public class KeysCtlException(string message, string? hint = null) : Exception(message)
{
    /// <summary>What the user can do about it, printed on a line of its own.</summary>
    public string? Hint => hint;
}
