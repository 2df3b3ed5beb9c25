using System.ComponentModel.DataAnnotations;

namespace Keys.Gateway;

public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>KeyValidation's gRPC endpoint; service discovery resolves the name.</summary>
    [Required]
    public Uri KeyValidationAddress { get; set; } = new("http://_grpc.key-validation");

    /// <summary>Past this, a key check fails closed with 503.</summary>
    public TimeSpan ValidationTimeout { get; set; } = TimeSpan.FromSeconds(2);
}
