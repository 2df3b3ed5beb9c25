using System.Globalization;
using System.Net.Http.Json;
using Aspire.Hosting.Testing;

namespace Keys.Benchmarks;

/// <summary>The whole system as the benchmarks need it, started as the tests start it (<see cref="KeysHost"/>).</summary>
public static class KeysSystem
{
    /// <param name="logs">The file the resources write to, opened (and named) by the caller before the start.</param>
    public static Task<KeysHost> StartAsync(ResourceLogs? logs = null) => KeysHost.StartAsync(new KeysHostOptions
    {
        Name = "bench",
        Logs = logs,
        CallerName = "bench",
        EnvironmentName = "Production",
        Environment =
        [
            // One load generator is one client address: the invalid-key throttle would turn G2's garbage into 429s.
            ("gateway", "ApiKeys__InvalidKeyLimit", int.MaxValue.ToString(CultureInfo.InvariantCulture)),

            // ListOrders without a key check, for the orders part to compare against.
            ("orders", "Orders__ServeUncheckedBaseline", "true"),

            // Last-used reports update api_key rows, which the garbage test would count as KeyAdmin lookups.
            ("key-validation", "KeyValidation__UsageFlushInterval", "01:00:00"),
        ],
    });

    public static async Task<(string ProjectId, string KeyId, string Value)> CreateKeyAsync(this KeysHost system, string type, object? rateLimit = null)
    {
        using var http = system.App.CreateHttpClient("key-admin", "http");
        http.DefaultRequestHeaders.Authorization = new("Bearer", system.AdminToken);
        var project = await (await http.PostAsJsonAsync("/v1/projects", new { name = "Benchmark" })).Content.ReadFromJsonAsync<IdOnly>();
        var response = await http.PostAsJsonAsync($"/v1/projects/{project!.Id}/environments/prod/keys", new { name = $"bench-{Guid.NewGuid():N}", type, rateLimit });
        var created = await response.Content.ReadFromJsonAsync<CreatedKey>();
        return (project.Id, created!.Key.Id, created.Value);
    }

    private sealed record IdOnly(string Id);

    private sealed record CreatedKey(IdOnly Key, string Value);
}
