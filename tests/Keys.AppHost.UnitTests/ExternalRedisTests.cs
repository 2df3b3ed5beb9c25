using Keys.AppHost.Infrastructure;
using Microsoft.Extensions.Configuration;

namespace Keys.AppHost.UnitTests;

public sealed class ExternalRedisTests
{
    [Fact]
    public void ASentinelConfigurationNamesItsServiceAndItsSentinels()
    {
        var redis = ExternalRedis.Parse("s1.internal:26379,s2.internal:26379,s3.internal:26379,serviceName=keys,password=p4ss");

        Assert.True(redis.IsSentinel);
        Assert.Equal("keys", redis.ServiceName);
        Assert.Equal(["s1.internal:26379", "s2.internal:26379", "s3.internal:26379"], redis.Endpoints);
    }

    [Fact]
    public void APlainConfigurationIsOneServerReachedDirectly()
    {
        var redis = ExternalRedis.Parse("cache.internal:6379,password=p4ss,ssl=true");

        Assert.False(redis.IsSentinel);
        Assert.Equal(["cache.internal:6379"], redis.Endpoints);
    }

    [Theory]
    [InlineData("serviceName=keys,password=p4ss", "names no server")]
    [InlineData("s1:26379,serviceName=keys,sentinelPasswrd=p4ss", "not a StackExchange.Redis configuration string")]
    [InlineData("  ", "is empty")]
    public void AConfigurationServicesCouldNotUseIsRefusedSayingWhatIsWrong(string connectionString, string reason)
    {
        var error = Assert.Throws<InvalidOperationException>(() => ExternalRedis.Parse(connectionString));

        Assert.Contains("ConnectionStrings:redis", error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void ARefusalNeverRepeatsThePassword()
    {
        var error = Assert.Throws<InvalidOperationException>(() => ExternalRedis.Parse("password=hunter2-secret,serviceName=keys"));

        Assert.DoesNotContain("hunter2-secret", error.Message);
    }

    [Fact]
    public void ExternalServersAreReadOneByOne()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = "s1:26379,serviceName=keys" })
            .Build();

        Assert.Equal(new ExternalServers(Database: false, Redis: true), ExternalServers.Of(configuration));
    }
}
