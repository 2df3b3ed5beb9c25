using System.ComponentModel.DataAnnotations;

namespace Keys.ServiceAuth;

/// <summary>
/// Service credentials (section <c>ServiceAuth</c>): the token this service presents when it calls another, and the
/// services that may call it, each by name with its own token. A name may be listed twice under different names while
/// a token is rotated (see docs/security.md).
/// </summary>
public sealed class ServiceAuthOptions : IValidatableObject
{
    public const string SectionName = "ServiceAuth";

    /// <summary>Shorter tokens are refused: they are random strings, not passwords a person types.</summary>
    public const int MinTokenLength = 32;

    /// <summary>Presented as <c>Authorization: Bearer …</c> on every call this service makes to another.</summary>
    public string Token { get; set; } = "";

    /// <summary>Who may call this service: caller name to that caller's token.</summary>
    public Dictionary<string, string> Callers { get; set; } = new(StringComparer.Ordinal);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (Token.Length is > 0 and < MinTokenLength)
        {
            yield return new ValidationResult($"ServiceAuth:Token must be at least {MinTokenLength} characters.");
        }

        foreach (var (name, token) in Callers)
        {
            if (token.Length < MinTokenLength)
            {
                // By name, never by value.
                yield return new ValidationResult($"ServiceAuth:Callers:{name} must be at least {MinTokenLength} characters.");
            }
        }
    }
}
