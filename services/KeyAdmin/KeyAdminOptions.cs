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
}
