using Keys.AspNetCore.Invalidation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Keys.AspNetCore.UnitTests;

/// <summary>
/// Settings of section <c>ApiKeys</c> that would break the key check stop the service when it starts, rather than
/// failing its requests once it serves.
/// </summary>
public sealed class ApiKeyValidationOptionsTests
{
    [Fact]
    public async Task DefaultSettingsStartAndServe()
    {
        await using var app = await StartedAsync();
        using var http = app.GetTestClient();

        using var response = await http.GetAsync("/anonymous");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("InvalidKeyWindow", "00:00:00")]
    [InlineData("InvalidKeyWindow", "-00:00:10")]
    [InlineData("ValidationTimeout", "00:00:00")]
    [InlineData("ValidationTimeout", "-00:00:02")]
    [InlineData("WatchSilenceTimeout", "00:00:00")]
    [InlineData("WatchSilenceTimeout", "-00:00:03")]
    public async Task DurationThatIsNotPositiveStopsTheServiceFromStartingAndIsNamed(string setting, string value)
    {
        // Accepted, a zero window would make every request fail as it is authenticated, anonymous endpoints included;
        // a zero timeout would fail every lookup; a zero silence timeout would drop every Watch stream at once.
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartedAsync((setting, value)));

        Assert.Contains($"ApiKeys:{setting}", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("InvalidKeyLimit", "0")]
    [InlineData("NearCacheMaxEntries", "0")]
    [InlineData("InvalidKeyMaxAddresses", "0")]
    public async Task CountThatIsNotPositiveStopsTheServiceFromStarting(string setting, string value) =>
        await Assert.ThrowsAsync<OptionsValidationException>(() => StartedAsync((setting, value)));

    [Theory]
    [InlineData("0")]
    [InlineData("-0.02")]
    [InlineData("0.9")]
    public async Task LeaseFractionOutsideItsRangeStopsTheServiceFromStarting(string value) =>
        // None would lease nothing and refuse every globally limited request; most of the limit would let one replica
        // hold what the others need.
        await Assert.ThrowsAsync<OptionsValidationException>(() => StartedAsync(("RateLimitLeaseFraction", value)));

    private static async Task<WebApplication> StartedAsync(params (string Setting, string Value)[] settings)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ServiceAuth:Token"] = "a-service-token-of-at-least-32-characters",
        });
        builder.Configuration.AddInMemoryCollection(settings.Select(s => KeyValuePair.Create($"ApiKeys:{s.Setting}", (string?)s.Value)));
        builder.Services.AddAuthentication(ApiKeyDefaults.AuthenticationScheme).AddApiKey();
        builder.Services.Remove(builder.Services.Single(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(InvalidationWatcher)));
        var app = builder.Build();
        app.UseAuthentication();
        app.MapGet("/anonymous", () => "served");
        try
        {
            await app.StartAsync();
            return app;
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }
}
