using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Google.Api;
using Keys.FunctionalTests.Infrastructure;
using Keys.V1;
using Xunit.Abstractions;

namespace Keys.FunctionalTests;

/// <summary>
/// The OpenAPI document KeyAdmin serves, as SDK generators and linters read it: Redocly's recommended rules pass with
/// no error and no warning (the pinned CLI in OpenApiLint/, its one exception in redocly.yaml), every operation has an
/// operationId named after its RPC and a summary, and every operation documents its errors with the Error schema.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class OpenApiDocumentTests(KeysAppFixture fixture, ITestOutputHelper output)
{
    private static readonly Lazy<Task<string>> LintInstalled = new(InstallLintAsync);

    private static readonly string[] ErrorStatuses = ["400", "401", "403", "404", "409", "413", "415", "429", "503"];

    [Fact]
    public async Task RedoclysRecommendedRulesFindNoErrorAndNoWarning()
    {
        var (text, _) = await FetchAsync();
        var lint = await LintInstalled.Value;
        var file = Path.Combine(Repository.Artifacts("openapi").FullName, "v1.json");
        await File.WriteAllTextAsync(file, text);

        var (exitCode, stdout, stderr) = await RunAsync(new ProcessStartInfo("node")
        {
            WorkingDirectory = lint,
            ArgumentList = { Path.Combine("node_modules", "@redocly", "cli", "bin", "cli.js"), "lint", file, "--format=json" },
            Environment = { ["REDOCLY_TELEMETRY"] = "off", ["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true" },
        });

        output.WriteLine(stdout);
        using var report = JsonDocument.Parse(stdout[stdout.IndexOf('{', StringComparison.Ordinal)..]);
        var totals = report.RootElement.GetProperty("totals");
        Assert.True(
            totals.GetProperty("errors").GetInt32() == 0 && totals.GetProperty("warnings").GetInt32() == 0,
            $"redocly lint (exit {exitCode}): {report.RootElement.GetProperty("problems")}\n{stderr}");
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task EveryOperationHasAUniqueOperationIdNamedAfterItsRpc()
    {
        var (_, document) = await FetchAsync();
        var operations = Operations(document).ToList();
        var ids = operations.Select(o => o.Operation.GetProperty("operationId").GetString()!).ToList();

        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
        Assert.All(ids, id => Assert.Matches("^[a-z][A-Za-z]+$", id));
        // Every binding of every RPC: its first as the RPC in camelCase (createKey), the others named in ErrorCatalog.
        foreach (var method in KeyAdminService.Descriptor.Methods)
        {
            Assert.Contains(char.ToLowerInvariant(method.Name[0]) + method.Name[1..], ids);
        }

        var bindings = KeyAdminService.Descriptor.Methods.Sum(m => 1 + m.GetOptions().GetExtension(AnnotationsExtensions.Http).AdditionalBindings.Count);
        Assert.Equal(bindings, ids.Count);
        Assert.Contains("listAllAuditEvents", ids);
    }

    [Fact]
    public async Task EveryOperationHasATagAndASummaryOfOneShortLine()
    {
        var (_, document) = await FetchAsync();
        var tags = document.GetProperty("tags").EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToList();

        Assert.All(Operations(document), o =>
        {
            var summary = o.Operation.GetProperty("summary").GetString()!;
            Assert.InRange(summary.Length, 10, 100);
            Assert.DoesNotContain('\n', summary);
            Assert.EndsWith(".", summary);
            Assert.Contains(Assert.Single(o.Operation.GetProperty("tags").EnumerateArray()).GetString(), tags);
        });
        Assert.Equal("Replaces a key with a new one; the old one keeps working for a grace period.", Operation(document, "rollKey").GetProperty("summary").GetString());
        Assert.Equal("Deletes the key and invalidates it on every gateway.", Operation(document, "deleteKey").GetProperty("summary").GetString());
    }

    [Fact]
    public async Task EveryOperationDocumentsItsErrorsWithTheErrorSchemaAndTheirReasons()
    {
        var (_, document) = await FetchAsync();

        foreach (var (path, method, operation) in Operations(document))
        {
            var responses = operation.GetProperty("responses");
            var errors = responses.EnumerateObject().Where(r => ErrorStatuses.Contains(r.Name)).ToList();
            var where = $"{method.ToUpperInvariant()} {path}";

            Assert.True(errors.Any(r => r.Name.StartsWith('4')), $"{where} has no 4xx response");
            foreach (var status in new[] { "401", "403", "429", "503" })
            {
                Assert.True(responses.TryGetProperty(status, out _), $"{where} has no {status}");
            }

            if (operation.TryGetProperty("requestBody", out _))
            {
                Assert.Contains("MALFORMED_JSON", Reasons(responses.GetProperty("400")));
                Assert.Contains("REQUEST_TOO_LARGE", Reasons(responses.GetProperty("413")));
                Assert.Contains("UNSUPPORTED_MEDIA_TYPE", Reasons(responses.GetProperty("415")));
            }

            foreach (var error in errors)
            {
                Assert.Equal("#/components/schemas/Error", error.Value.GetProperty("content").GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
                var reasons = Reasons(error.Value);
                Assert.NotEmpty(reasons);
                Assert.All(reasons, reason => Assert.Contains($"`{reason}`", error.Value.GetProperty("description").GetString()));
            }
        }

        Assert.Equal(["TOO_MANY_REQUESTS"], Reasons(Operation(document, "listKeys").GetProperty("responses").GetProperty("429")));
        Assert.Contains("KEY_NAME_TAKEN", Reasons(Operation(document, "updateKey").GetProperty("responses").GetProperty("409")));
        Assert.Contains("INVALID_KEY_FORMAT", Reasons(Operation(document, "findKey").GetProperty("responses").GetProperty("400")));
        Assert.True(Operation(document, "listKeys").GetProperty("responses").GetProperty("429").GetProperty("headers").TryGetProperty("Retry-After", out _));
    }

    /// <summary>The Error schema says what the API answers: an error it gives matches it field for field.</summary>
    [Fact]
    public async Task TheErrorSchemaDescribesTheErrorsTheApiGives()
    {
        var (_, document) = await FetchAsync();
        var schemas = document.GetProperty("components").GetProperty("schemas");
        using var anonymous = fixture.App.CreateHttpClient("key-admin", "http");

        // A path no operation has: refused before any token is looked at, so this costs no attempt of the throttle.
        using var refused = JsonDocument.Parse(await (await anonymous.GetAsync("/v1/no-such-path")).Content.ReadAsStringAsync());

        var error = refused.RootElement;
        Assert.All(Required(schemas.GetProperty("Error")), field => Assert.True(error.TryGetProperty(field, out _), $"no {field}"));
        var info = Assert.Single(error.GetProperty("details").EnumerateArray());
        Assert.All(Required(schemas.GetProperty("ErrorInfo")), field => Assert.True(info.TryGetProperty(field, out _), $"no {field}"));
        Assert.Equal(
            schemas.GetProperty("ErrorInfo").GetProperty("properties").GetProperty("@type").GetProperty("enum")[0].GetString(),
            info.GetProperty("@type").GetString());
        Assert.False(schemas.TryGetProperty("Status", out _), "the transcoder's Status schema is still there, unused");
    }

    [Fact]
    public async Task TheDocumentNamesTheAddressItWasFetchedFromAsItsServer()
    {
        using var http = fixture.App.CreateHttpClient("key-admin", "http");

        var document = await http.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

        Assert.Equal(http.BaseAddress!.GetLeftPart(UriPartial.Authority), Assert.Single(document.GetProperty("servers").EnumerateArray()).GetProperty("url").GetString());
    }

    [Fact]
    public async Task ADocumentNamingAnotherHostIsKeptByNoCacheSoNoOneElseIsHandedThatServer()
    {
        using var http = fixture.App.CreateHttpClient("key-admin", "http");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/openapi/v1.json");
        request.Headers.Host = "evil.example";

        using var response = await http.SendAsync(request);
        var document = await response.Content.ReadFromJsonAsync<JsonElement>();

        // The server is whatever the Host header said, so the answer is this client's alone.
        Assert.Equal("http://evil.example", Assert.Single(document.GetProperty("servers").EnumerateArray()).GetProperty("url").GetString());
        Assert.True(response.Headers.CacheControl?.NoStore, $"Cache-Control: {response.Headers.CacheControl}");
        Assert.Contains("Host", response.Headers.Vary);
    }

    private async Task<(string Text, JsonElement Document)> FetchAsync()
    {
        using var http = fixture.App.CreateHttpClient("key-admin", "http");
        using var response = await http.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        return (text, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static IEnumerable<(string Path, string Method, JsonElement Operation)> Operations(JsonElement document) =>
        document.GetProperty("paths").EnumerateObject()
            .SelectMany(path => path.Value.EnumerateObject().Select(method => (path.Name, method.Name, method.Value)));

    private static JsonElement Operation(JsonElement document, string operationId) =>
        Operations(document).Single(o => o.Operation.GetProperty("operationId").GetString() == operationId).Operation;

    private static List<string> Reasons(JsonElement response) =>
        [.. response.GetProperty("x-reason-codes").EnumerateArray().Select(r => r.GetString()!)];

    private static IEnumerable<string> Required(JsonElement schema) => schema.GetProperty("required").EnumerateArray().Select(r => r.GetString()!);

    /// <summary>The OpenApiLint folder once <c>npm ci</c> has installed the pinned Redocly CLI there.</summary>
    private static async Task<string> InstallLintAsync()
    {
        var directory = Path.Combine(Repository.Root, "tests", "Keys.FunctionalTests", "OpenApiLint");
        var (exitCode, _, error) = await RunAsync(new ProcessStartInfo("npm")
        {
            WorkingDirectory = directory,
            ArgumentList = { "ci", "--no-audit", "--no-fund", "--ignore-scripts" },
        });
        Assert.True(exitCode == 0, $"npm ci failed: {error}");
        return directory;
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var stderr = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
