namespace Keys.ApiKeys;

/// <summary>
/// An operator's token for the management API: <c>op_</c> and the key format's body and checksum
/// (<see cref="KeyString"/>), so that scanners and KeyAdmin reject typos offline. It is not an API key: the gateway and
/// KeyValidation refuse it as one, and KeyAdmin takes nothing else but the break-glass token as a bearer.
/// </summary>
public static class OperatorToken
{
    public const string Prefix = "op_";

    public const int Length = KeyString.Length;

    public static string Generate() => KeyString.Generate(Prefix);

    public static bool IsWellFormed(ReadOnlySpan<char> token) =>
        token.Length == Length && token.StartsWith(Prefix, StringComparison.Ordinal) && KeyString.HasValidBodyAndChecksum(token);

    /// <summary>The form shown wherever the token may not be: <c>op_Ab3d…x9Qz</c>.</summary>
    public static string Mask(string token) => KeyString.Mask(token);
}
