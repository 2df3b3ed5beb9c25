using System.ComponentModel.DataAnnotations;

namespace Keys.KeyValidation;

public sealed class KeyValidationOptions
{
    public const string SectionName = "KeyValidation";

    /// <summary>Presented to KeyAdmin's internal LookupKey call.</summary>
    [Required(ErrorMessage = "KeyValidation:AdminToken is not set: KeyAdmin would refuse every lookup.")]
    public string AdminToken { get; set; } = "";

    /// <summary>KeyAdmin's gRPC endpoint; service discovery resolves the name.</summary>
    [Required]
    public Uri KeyAdminAddress { get; set; } = new("http://_grpc.key-admin");

    /// <summary>The Redis channel KeyAdmin publishes invalidations on.</summary>
    public string InvalidationChannel { get; set; } = "keys:invalidations";

    /// <summary>How long a key record stays in Redis without being read from KeyAdmin again.</summary>
    public TimeSpan RecordTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long a lookup in KeyAdmin may take before Validate answers Unavailable.</summary>
    public TimeSpan LookupTimeout { get; set; } = TimeSpan.FromSeconds(2);
}
