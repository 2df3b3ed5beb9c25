using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Aspire.Hosting.Testing;
using Npgsql;

namespace Keys.Benchmarks;

/// <summary>
/// ListKeys in an environment of 100,000 keys: every page, from the first to the last, through KeyAdmin's REST API on
/// its own port, as the console and keysctl page through it. The goal is per page, at whatever depth.
/// </summary>
public static class ListingBenchmark
{
    private const int KeyCount = 100_000;
    private const int PageSize = 100;
    private const double GoalMs = 20;

    public static async Task<IEnumerable<Row>> RunAsync(KeysHost system)
    {
        using var http = new HttpClient { BaseAddress = await system.DirectAddressAsync("key-admin", "http") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", system.AdminToken);
        var project = await (await http.PostAsJsonAsync("/v1/projects", new { name = "Listing benchmark" })).Content.ReadFromJsonAsync<Named>();
        await SeedAsync(system, project!.Id);

        // Warm-up: one walk of a few pages, so that the first measured page does not pay for connections and JIT.
        var path = $"/v1/projects/{project.Id}/environments/prod/keys";
        await WalkAsync(http, path, maxPages: 20);

        var (firstWalk, pages) = await WalkAsync(http, path, maxPages: int.MaxValue);
        var (secondWalk, _) = await WalkAsync(http, path, maxPages: int.MaxValue);
        var samples = firstWalk.Concat(secondWalk).ToList();
        var (p50, p99) = Measure.Percentiles(samples);
        var deepest = secondWalk.Skip(secondWalk.Count * 9 / 10).ToList();
        var (_, deepP99) = Measure.Percentiles(deepest);
        var (searchP50, searchP99) = await SearchAsync(http, path);

        return
        [
            new($"ListKeys p99 per page of {PageSize}, every page of a {KeyCount:N0}-key environment (2 walks, {samples.Count} pages)",
                $"p50 {p50:F1} ms", $"p99 {p99:F1} ms", "-", $"≤ {GoalMs} ms", p99 <= GoalMs && pages == KeyCount / PageSize),
            new("ListKeys p99 per page, the deepest 10 % of pages", $"{deepest.Count} pages", $"p99 {deepP99:F1} ms", "-", $"≤ {GoalMs} ms", deepP99 <= GoalMs),
            new($"ListKeys search (q: a name's middle, a masked key's end) in {KeyCount:N0} keys, 200 searches", $"p50 {searchP50:F1} ms",
                $"p99 {searchP99:F1} ms", "-", "(shown)", true),
        ];
    }

    /// <summary>
    /// 100,000 keys written into Postgres in one statement, shaped as KeyAdmin writes them (creating them through the
    /// API would take minutes and measure creating, not listing). Their hashes are of no real key: none is ever used.
    /// </summary>
    private static async Task SeedAsync(KeysHost system, string projectId)
    {
        await using var postgres = new NpgsqlConnection(await system.App.GetConnectionStringAsync("keysdb"));
        await postgres.OpenAsync();
        await using (var insert = new NpgsqlCommand(
            """
            INSERT INTO api_key (id, project_id, environment, name, type, scopes, key_hash, masked_key, created_at, created_by)
            SELECT 'key_' || lpad(i::text, 22, '0'), @project, 'prod', 'bulk-key-' || i, 'secret', '{}',
                   sha256(convert_to(@project || ':' || i, 'UTF8')), 'sk_Bulk…' || lpad((i % 10000)::text, 4, '0'),
                   now() - make_interval(secs => i), 'bench'
            FROM generate_series(1, @count) AS i
            """, postgres))
        {
            insert.CommandTimeout = 300;
            insert.Parameters.AddWithValue("project", projectId);
            insert.Parameters.AddWithValue("count", KeyCount);
            await insert.ExecuteNonQueryAsync();
        }

        await using var analyze = new NpgsqlCommand("ANALYZE api_key", postgres);
        await analyze.ExecuteNonQueryAsync();
    }

    private static async Task<(List<double> Samples, int Pages)> WalkAsync(HttpClient http, string path, int maxPages)
    {
        var samples = new List<double>();
        var token = "";
        var pages = 0;
        do
        {
            var url = $"{path}?pageSize={PageSize}" + (token.Length > 0 ? $"&pageToken={Uri.EscapeDataString(token)}" : "");
            var clock = Stopwatch.StartNew();
            using var response = await http.GetAsync(url);
            var page = await response.EnsureSuccessStatusCode().Content.ReadFromJsonAsync<Page>();
            samples.Add(clock.Elapsed.TotalMilliseconds);
            pages++;
            token = page!.NextPageToken ?? "";
        }
        while (token.Length > 0 && pages < maxPages);

        return (samples, pages);
    }

    private static async Task<(double P50, double P99)> SearchAsync(HttpClient http, string path)
    {
        var samples = new List<double>();
        for (var i = 0; i < 200; i++)
        {
            var q = i % 2 == 0 ? $"key-{(i * 4999) % KeyCount}" : $"{(i * 37) % 10000:0000}";
            var clock = Stopwatch.StartNew();
            using var response = await http.GetAsync($"{path}?pageSize=50&q={Uri.EscapeDataString(q)}");
            response.EnsureSuccessStatusCode();
            await response.Content.ReadAsByteArrayAsync();
            samples.Add(clock.Elapsed.TotalMilliseconds);
        }

        return Measure.Percentiles(samples);
    }

    private sealed record Named(string Id);

    private sealed record Page(string? NextPageToken);
}
