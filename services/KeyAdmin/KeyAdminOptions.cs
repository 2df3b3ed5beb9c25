using System.ComponentModel.DataAnnotations;

namespace Keys.KeyAdmin;

public sealed class KeyAdminOptions
{
    public const string SectionName = "KeyAdmin";

    /// <summary>The operator token every management call presents as <c>Authorization: Bearer …</c>.</summary>
    [Required(ErrorMessage = "KeyAdmin:AdminToken is not set: the management API would have no credential.")]
    [MinLength(16, ErrorMessage = "KeyAdmin:AdminToken must be at least 16 characters.")]
    public string AdminToken { get; set; } = "";

    /// <summary>The Redis channel KeyValidation listens on for invalidations.</summary>
    public string InvalidationChannel { get; set; } = "keys:invalidations";

    /// <summary>How often the outbox is checked for invalidations that could not be published at once.</summary>
    public TimeSpan OutboxPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a delete or roll waits to publish its invalidation before leaving it to the relay.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(1);
}
