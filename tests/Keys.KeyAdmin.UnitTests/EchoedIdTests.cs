using Keys.ApiKeys;
using Keys.KeyAdmin.Data;

namespace Keys.KeyAdmin.UnitTests;

/// <summary>Error messages end up in logs and in front of whoever sent the request: only well-formed IDs come back.</summary>
public sealed class EchoedIdTests
{
    private const string ProjectId = "prj_0123456789abcdefABCDEF";
    private const string KeyId = "key_0123456789abcdefABCDEF";

    [Fact]
    public void AnIdOrEnvironmentThatIsNotWellFormedIsNotEchoedWhereverItAppears()
    {
        var script = "<script>alert(1)</script>";
        var long10K = new string('k', 10 * 1024);
        var pasted = KeyString.Generate(ApiKeyType.Secret);

        foreach (var junk in new[] { script, long10K, pasted })
        {
            Assert.DoesNotContain(junk, KeyAdminException.KeyNotFound(junk, "dev").Message, StringComparison.Ordinal);
            Assert.DoesNotContain(junk, KeyAdminException.KeyNotFound(KeyId, junk).Message, StringComparison.Ordinal);
            Assert.DoesNotContain(junk, KeyAdminException.EnvironmentNotFound(junk, "qa").Message, StringComparison.Ordinal);
            Assert.DoesNotContain(junk, KeyAdminException.ProjectNotFound(junk).Message, StringComparison.Ordinal);
        }

        Assert.Equal($"Key '{KeyId}' does not exist in this environment.", KeyAdminException.KeyNotFound(KeyId, script).Message);
        Assert.Equal("The project has no environment 'qa'.", KeyAdminException.EnvironmentNotFound(script, "qa").Message);
        Assert.Equal($"Key '{KeyId}' does not exist in environment 'dev'.", KeyAdminException.KeyNotFound(KeyId, "dev").Message);
        Assert.Equal($"Project '{ProjectId}' has no environment 'qa'.", KeyAdminException.EnvironmentNotFound(ProjectId, "qa").Message);
    }
}
