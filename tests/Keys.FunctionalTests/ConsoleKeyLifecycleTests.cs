using System.Net;
using System.Text.Json;
using Deque.AxeCore.Playwright;
using Keys.FunctionalTests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Keys.FunctionalTests;

/// <summary>
/// Changing keys in place from the console, in real Chromium against the real system: what the operator does in the
/// page is checked at both gateways and through the API.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class ConsoleKeyLifecycleTests(KeysAppFixture fixture, ConsoleBrowser browser) : IClassFixture<ConsoleBrowser>, IAsyncLifetime
{
    private static readonly TimeSpan RevocationBound = TimeSpan.FromSeconds(1);

    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();
    private readonly ConsolePages _pages = new(fixture, browser);
    private readonly List<HttpClient> _gateways = [];
    private ProjectDto _project = null!;

    public async Task InitializeAsync()
    {
        _project = await _admin.CreateProjectAsync($"Lifecycle {Guid.NewGuid().ToString("N")[..8]}");
        _gateways.AddRange((await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))
            .Select(address => new HttpClient { BaseAddress = address }));
    }

    public async Task DisposeAsync()
    {
        _gateways.ForEach(g => g.Dispose());
        await _pages.DisposeAsync();
    }

    [Fact]
    public async Task OperatorDisablesAKeyWithTheToggleAndEveryGatewayRefusesItUntilItIsEnabledAgain()
    {
        var key = await _admin.CreateKeyAsync(_project.Id, "dev", "switched-key", "secret");
        await EveryGatewayAcceptsAsync("/demo/private/x", key.Value);

        var page = await _pages.SignedInAtKeysAsync(_project, "dev");
        var row = ConsolePages.KeyRow(page, "secret", "switched-key");
        await row.GetByRole(AriaRole.Button, new() { Name = "Disable switched-key" }).ClickAsync();

        await Expect(row.Locator(".badge", new() { HasTextString = "Disabled" })).ToBeVisibleAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("Key switched-key disabled");
        foreach (var gateway in _gateways)
        {
            var response = await gateway.FirstRejectionAsync("/demo/private/x", key.Value, within: RevocationBound);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Equal("TOKEN_DISABLED", (await response.ReadErrorAsync()).Error);
        }

        Assert.Equal("disabled", (await KeyAsync(key.Key.Id)).GetProperty("status").GetString());

        await row.GetByRole(AriaRole.Button, new() { Name = "Enable switched-key" }).ClickAsync();
        await Expect(row.Locator(".badge", new() { HasTextString = "Disabled" })).ToHaveCountAsync(0);
        await EveryGatewayAcceptsAsync("/demo/private/x", key.Value);
    }

    [Fact]
    public async Task OperatorRemovesAScopeInTheEditDialogAndEveryGatewayRefusesItAtOnce()
    {
        var key = await CreateKeyAsync("dev", "scoped-key", scopes: ["orders:read", "orders:create"]);
        await EveryGatewayAcceptsAsync("/demo/orders/1", key.Value);

        var page = await _pages.SignedInAtKeysAsync(_project, "dev");
        var requests = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Method == "PATCH")
            {
                requests.Add(request.PostData ?? "");
            }
        };
        var row = ConsolePages.KeyRow(page, "secret", "scoped-key");
        await row.GetByRole(AriaRole.Button, new() { Name = "Edit scoped-key" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Edit key “scoped-key”" });
        await Expect(dialog.GetByLabel("Scopes")).ToHaveValueAsync("orders:read, orders:create");
        await dialog.GetByLabel("Scopes").FillAsync("orders:create");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(row.Locator(".badge.scope")).ToHaveTextAsync(["orders:create"]);

        // Only what changed is sent: the expiry, limits and allowlist the dialog also shows are left alone.
        var sent = JsonDocument.Parse(Assert.Single(requests)).RootElement;
        Assert.Equal(["scopes"], sent.EnumerateObject().Select(p => p.Name));

        foreach (var gateway in _gateways)
        {
            var response = await gateway.FirstRejectionAsync("/demo/orders/1", key.Value, within: RevocationBound);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("SCOPE_INSUFFICIENT", (await response.ReadErrorAsync()).Error);
        }
    }

    [Fact]
    public async Task EditDialogSetsARateLimitAndAnIpAllowlistAndShowsTheApisRefusalOfABadRange()
    {
        var key = await _admin.CreateKeyAsync(_project.Id, "dev", "limited-key", "secret");
        var page = await _pages.SignedInAtKeysAsync(_project, "dev");
        var row = ConsolePages.KeyRow(page, "secret", "limited-key");

        await row.GetByRole(AriaRole.Button, new() { Name = "Edit limited-key" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Edit key “limited-key”" });
        await dialog.GetByLabel("Rate limit").SelectOptionAsync("custom");
        await dialog.GetByLabel("Requests").FillAsync("120");
        await dialog.GetByLabel("Per").SelectOptionAsync("60");
        await dialog.GetByLabel("Counted").SelectOptionAsync("global");
        await dialog.GetByLabel("Allowed IP ranges").FillAsync("10.0.0.0/8\n300.1.1.1/8");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();

        // The API's own words and code, and nothing changed.
        await Expect(dialog.GetByRole(AriaRole.Alert)).ToContainTextAsync("INVALID_ALLOWED_CIDRS");
        Assert.False((await KeyAsync(key.Key.Id)).TryGetProperty("rateLimit", out var unchanged) && unchanged.ValueKind == JsonValueKind.Object);

        await dialog.GetByLabel("Allowed IP ranges").FillAsync("10.0.0.0/8\n2001:db8::/32");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(row).ToContainTextAsync("Limit 120 / minute · global");
        await Expect(row).ToContainTextAsync("IP allowlist (2)");

        var saved = await KeyAsync(key.Key.Id);
        Assert.Equal(120, long.Parse(saved.GetProperty("rateLimit").GetProperty("limit").ToString(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("global", saved.GetProperty("rateLimit").GetProperty("mode").GetString());
        Assert.Equal(2, saved.GetProperty("allowedCidrs").GetArrayLength());
    }

    [Fact]
    public async Task SearchAndStatusFilterFindOneKeyAmongManyAndPagesReachEveryOtherKey()
    {
        var environment = "staging";
        var names = Enumerable.Range(0, 30).Select(i => $"bulk-{i:00}").ToList();
        foreach (var chunk in names.Chunk(10))
        {
            await Task.WhenAll(chunk.Select(name => _admin.CreateKeyAsync(_project.Id, environment, name, "secret")));
        }

        var needle = await _admin.CreateKeyAsync(_project.Id, environment, "needle-billing", "secret");
        await PatchKeyAsync(needle.Key.Id, environment, new { enabled = false });

        var page = await _pages.SignedInAtKeysAsync(_project, environment);
        var section = page.Locator("#secret-keys");

        // 31 keys, 25 a page: the pages between them list every key exactly once.
        var seen = new List<string>();
        seen.AddRange(await section.Locator("tbody .key-name").AllInnerTextsAsync());
        Assert.Equal(25, seen.Count);
        await section.GetByRole(AriaRole.Button, new() { Name = "Next secret keys" }).ClickAsync();
        await Expect(section.GetByText("Page 2")).ToBeVisibleAsync();
        seen.AddRange(await section.Locator("tbody .key-name").AllInnerTextsAsync());
        await Expect(section.GetByRole(AriaRole.Button, new() { Name = "Next secret keys" })).ToBeDisabledAsync();
        Assert.Equal(names.Append("needle-billing").Order(), seen.Order());

        await section.GetByRole(AriaRole.Button, new() { Name = "Previous secret keys" }).ClickAsync();
        await Expect(section.GetByText("Page 1")).ToBeVisibleAsync();

        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Search" }).FillAsync("BILLING");
        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Search" }).PressAsync("Enter");
        await Expect(section.Locator("tbody .key-name")).ToHaveTextAsync(["needle-billing"]);

        // The masked key's visible end finds it too.
        var end = needle.Key.MaskedKey[^4..];
        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Search" }).FillAsync(end);
        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Search" }).PressAsync("Enter");
        await Expect(section.Locator("tbody .key-name")).ToContainTextAsync(["needle-billing"]);

        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Search" }).FillAsync("");
        await page.GetByRole(AriaRole.Searchbox, new() { Name = "Search" }).PressAsync("Enter");
        await page.GetByLabel("Status").SelectOptionAsync("disabled");
        await Expect(section.Locator("tbody .key-name")).ToHaveTextAsync(["needle-billing"]);
        await Expect(page.Locator("#publishable-keys")).ToContainTextAsync("No keys here match the search.");
    }

    [Fact]
    public async Task ListWarnsOfAKeyThatExpiresWithinAWeekAndOfOneUnusedFor90Days()
    {
        var environment = "prod";
        await CreateKeyAsync(environment, "soon-key", expiresAt: DateTimeOffset.UtcNow.AddDays(3).AddMinutes(5));
        await _admin.CreateKeyAsync(_project.Id, environment, "quiet-key", "secret");

        var page = await _pages.SignedInAtKeysAsync(_project, environment);
        await Expect(ConsolePages.KeyRow(page, "secret", "soon-key").Locator(".badge.warn")).ToContainTextAsync("Expires in 3 days");
        await Expect(ConsolePages.KeyRow(page, "secret", "quiet-key").Locator(".badge.warn")).ToHaveCountAsync(0);

        // Ninety-one days on, in the browser's clock: the never-used key is flagged.
        var later = await _pages.NewPageAsync();
        await later.Clock.InstallAsync(new() { TimeDate = DateTime.UtcNow.AddDays(91) });
        await later.GotoAsync($"/#/projects/{_project.Id}/environments/{environment}/keys");
        await _pages.SignInAsync(later);
        await Expect(ConsolePages.KeyRow(later, "secret", "quiet-key").Locator(".badge.warn")).ToContainTextAsync("Never used in 90 days");
    }

    [Fact]
    public async Task EditorSetsAProjectLifetimePolicyAndAddingASecretKeyThatNeverExpiresIsRefusedInTheApisWords()
    {
        var page = await _pages.NewPageAsync();
        await page.GotoAsync($"/#/projects/{_project.Id}/settings");
        await _pages.SignInAsync(page);
        await page.GetByLabel("Secret keys must expire within (days)").FillAsync("30");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save policies" }).ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("Key policies saved");
        Assert.Equal(30, (await ProjectAsync()).GetProperty("maxSecretKeyLifetimeDays").GetInt32());

        await page.GetByRole(AriaRole.Link, new() { Name = "API Keys" }).ClickAsync();
        await page.Locator("#secret-keys").GetByRole(AriaRole.Button, new() { Name = "Add Key" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Add secret key" });
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync("forever-key");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create", Exact = true }).ClickAsync();
        await Expect(dialog.GetByRole(AriaRole.Alert)).ToContainTextAsync("EXPIRY_REQUIRED");

        await dialog.GetByLabel("Expires").SelectOptionAsync("7");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create", Exact = true }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(ConsolePages.KeyRow(page, "secret", "forever-key")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task FiltersEditDialogAndPoliciesHaveNoAccessibilityViolations()
    {
        await _admin.CreateKeyAsync(_project.Id, "dev", "a11y-edit", "secret");
        // A disabled key's row is greyed: still legible (AA contrast).
        var disabled = await _admin.CreateKeyAsync(_project.Id, "dev", "a11y-disabled", "secret");
        await PatchKeyAsync(disabled.Key.Id, "dev", new { enabled = false });
        var page = await _pages.SignedInAtKeysAsync(_project, "dev");
        await Expect(ConsolePages.KeyRow(page, "secret", "a11y-disabled").Locator(".badge", new() { HasTextString = "Disabled" })).ToBeVisibleAsync();
        var violations = new List<string>();

        await CollectViolationsAsync(page, "keys with filters", violations);
        await ConsolePages.KeyRow(page, "secret", "a11y-edit").GetByRole(AriaRole.Button, new() { Name = "Edit a11y-edit" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Edit key “a11y-edit”" });
        await dialog.GetByLabel("Rate limit").SelectOptionAsync("custom");
        await CollectViolationsAsync(page, "Edit dialog", violations);
        await page.Keyboard.PressAsync("Escape");
        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Key policies" })).ToBeVisibleAsync();
        await page.GetByLabel("Default rate limit").SelectOptionAsync("custom");
        await CollectViolationsAsync(page, "settings with policies", violations);

        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    private async Task EveryGatewayAcceptsAsync(string path, string key)
    {
        foreach (var gateway in _gateways)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            HttpResponseMessage response;
            do
            {
                response = await gateway.SendAsync(GatewayResponses.Get(path, key));
            }
            while (response.StatusCode != HttpStatusCode.OK && clock.Elapsed < RevocationBound);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    private async Task<CreatedKeyDto> CreateKeyAsync(
        string environment, string name, string[]? scopes = null, DateTimeOffset? expiresAt = null) =>
        await KeyAdminClient.ReadAsync<CreatedKeyDto>(await _admin.PostKeyAsync(
            _project.Id, environment, new { name, type = "secret", scopes = scopes ?? [], expiresAt = expiresAt?.UtcDateTime }));

    private async Task<JsonElement> KeyAsync(string keyId)
    {
        foreach (var environment in new[] { "dev", "staging", "prod" })
        {
            var page = await _admin.Http.GetFromJsonAsync<JsonElement>(
                $"/v1/projects/{_project.Id}/environments/{environment}/keys?pageSize=500");
            foreach (var key in page.GetProperty("keys").EnumerateArray())
            {
                if (key.GetProperty("id").GetString() == keyId)
                {
                    return key;
                }
            }
        }

        throw new InvalidOperationException($"No key {keyId}.");
    }

    private async Task<JsonElement> ProjectAsync() =>
        await _admin.Http.GetFromJsonAsync<JsonElement>($"/v1/projects/{_project.Id}");

    private async Task PatchKeyAsync(string keyId, string environment, object changes)
    {
        var response = await _admin.Http.PatchAsJsonAsync($"/v1/projects/{_project.Id}/environments/{environment}/keys/{keyId}", changes);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task CollectViolationsAsync(IPage page, string where, List<string> violations)
    {
        var result = await page.RunAxe();
        violations.AddRange(result.Violations.Select(v =>
            $"{where}: {v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Select(n => n.Target.ToString()))}"));
    }
}
