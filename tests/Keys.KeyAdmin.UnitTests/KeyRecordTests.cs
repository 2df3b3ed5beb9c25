using Keys.ApiKeys;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Grpc;
using Keys.V1;

namespace Keys.KeyAdmin.UnitTests;

/// <summary>What KeyAdmin tells validation about a key, and what an update tells the audit log.</summary>
public sealed class KeyRecordTests
{
    private static readonly DateTime Now = new(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    private static readonly KeyRow Key = new(
        "key_0123456789abcdefABCDEF", "prj_0123456789abcdefABCDEF", "dev", "web", ApiKeyType.Secret, ["posts:read"], "sk_Ab3d…x9Qz",
        null, Now, "ana", Now.AddDays(30), null, null, null, null,
        Enabled: false, RateLimit: null, AllowedCidrs: ["10.0.0.0/8"], AllowedOrigins: [], Metadata: """{"team": "billing"}""");

    [Fact]
    public void TheRecordCarriesTheKeysOwnSettingsButNeverItsMetadata()
    {
        var record = InternalApi.ToRecord(Key with { RateLimit = new RateLimitSetting(100, 60, "global") }, new RateLimitSetting(5, 1, "local"));

        Assert.True(record.Disabled);
        Assert.Equal(new RateLimitRule { Limit = 100, WindowSeconds = 60, Mode = RateLimitMode.Global }, record.RateLimit);
        Assert.Equal(["10.0.0.0/8"], record.AllowedCidrs);
        Assert.Empty(record.AllowedOrigins);
        Assert.DoesNotContain("billing", record.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AKeyWithoutALimitOfItsOwnGetsItsProjectsDefault()
    {
        Assert.Equal(
            new RateLimitRule { Limit = 5, WindowSeconds = 1, Mode = RateLimitMode.Local },
            InternalApi.ToRecord(Key, new RateLimitSetting(5, 1, "local")).RateLimit);
        Assert.Null(InternalApi.ToRecord(Key, null).RateLimit);
        Assert.False(InternalApi.ToRecord(Key with { Enabled = true }, null).Disabled);
    }

    [Fact]
    public void TheAuditDetailHoldsTheChangedFieldsBeforeAndAfterByTheirApiNames()
    {
        var after = Key with { Name = "web-2", Enabled = true, RateLimit = new RateLimitSetting(10, 60, "local"), ExpiresAt = null };
        var changed = System.Enum.GetValues<KeyField>().Where(f => !KeyDiff.Same(f, Key, after)).ToList();

        Assert.Equal([KeyField.Name, KeyField.ExpiresAt, KeyField.Enabled, KeyField.RateLimit], changed);
        Assert.Equal(
            """
            {"before":{"name":"web","expiresAt":"2030-02-01T03:04:05Z","enabled":false,"rateLimit":null},"after":{"name":"web-2","expiresAt":null,"enabled":true,"rateLimit":{"limit":10,"windowSeconds":60,"mode":"local"}}}
            """,
            KeyDiff.Detail(changed, Key, after));
    }

    [Fact]
    public void MetadataIsComparedAsPostgresPrintsIt() =>
        Assert.False(KeyDiff.Same(KeyField.Metadata, Key, Key with { Metadata = """{"team": "payments"}""" }));

    [Fact]
    public void ASecretKeyUnderALifetimePolicyMustExpireWithinIt()
    {
        LifetimePolicy.Check("prj_x", 90, Now, ApiKeyType.Secret, Now.AddDays(90));
        LifetimePolicy.Check("prj_x", null, Now, ApiKeyType.Secret, null);
        LifetimePolicy.Check("prj_x", 90, Now, ApiKeyType.Publishable, null);
        LifetimePolicy.Check("prj_x", 90, Now, ApiKeyType.Publishable, Now.AddYears(5));

        var none = Assert.Throws<KeyAdminException>(() => LifetimePolicy.Check("prj_x", 90, Now, ApiKeyType.Secret, null));
        var tooLong = Assert.Throws<KeyAdminException>(() => LifetimePolicy.Check("prj_x", 90, Now, ApiKeyType.Secret, Now.AddDays(90).AddSeconds(1)));

        Assert.Equal(("EXPIRY_REQUIRED", "Project 'prj_x' requires secret keys to expire within 90 days: give expiresAt."), (none.Code, none.Message));
        Assert.Equal(
            ("EXPIRY_TOO_LONG", "Project 'prj_x' requires secret keys to expire within 90 days: expiresAt must be no later than 2030-04-02T03:04:05.0000000Z."),
            (tooLong.Code, tooLong.Message));
    }
}
