using System.Collections.Specialized;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using System.Web;
using Deque.AxeCore.Playwright;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Keys.FunctionalTests;

/// <summary>
/// Changing and finding keys from the console, in real Chromium against the real system: what the operator does in the
/// page is checked at both gateways and through the API, and what the page sends is checked request by request.
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
        await Expect(row.GetByRole(AriaRole.Button, new() { Name = "Enable switched-key" })).ToBeFocusedAsync();
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

        // Each answer is waited for (its GET received, the page drawn), and the list compared whole: the page before it
        // may show the expected row too.
        var search = page.GetByRole(AriaRole.Searchbox, new() { Name = "Search" });
        var listed = section.Locator("tbody .key-name");
        await search.FillAsync("BILLING");
        await SecretKeysListedAfterAsync(page, () => search.PressAsync("Enter"), query => query["q"] == "BILLING");
        await Expect(listed).ToHaveTextAsync(["needle-billing"]);

        // The masked key's visible end finds it too.
        var end = needle.Key.MaskedKey[^4..];
        await search.FillAsync(end);
        await SecretKeysListedAfterAsync(page, () => search.PressAsync("Enter"), query => query["q"] == end);
        await Expect(listed).ToHaveTextAsync(["needle-billing"]);

        // Every key again, then only the disabled ones: the list in between is not the one expected after.
        await search.FillAsync("");
        await SecretKeysListedAfterAsync(page, () => search.PressAsync("Enter"), query => query["q"] is null);
        await Expect(listed).ToHaveCountAsync(25);
        await SecretKeysListedAfterAsync(page, () => page.GetByLabel("Status").SelectOptionAsync("disabled"), query => query["status"] == "disabled");
        await Expect(listed).ToHaveTextAsync(["needle-billing"]);
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
        await Expect(dialog).ToBeHiddenAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Key policies" })).ToBeVisibleAsync();
        await page.GetByLabel("Default rate limit").SelectOptionAsync("custom");
        await CollectViolationsAsync(page, "settings with policies", violations);

        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    [Fact]
    public async Task SavingOnlyAKeysNameOrOnlyTheLifetimePolicyLeavesARateLimitOfAnyWindowAsItIs()
    {
        // 90 s and 5 minutes: windows the API takes (1 to 86,400 s) that the picker does not list.
        var key = await _admin.CreateKeyAsync(_project.Id, "dev", "ninety-key", "secret");
        await PatchKeyAsync(key.Key.Id, "dev", new { rateLimit = new { limit = 10, windowSeconds = 90, mode = "local" } });
        await PatchProjectAsync(new { defaultRateLimit = new { limit = 1000, windowSeconds = 300, mode = "global" } });

        var page = await _pages.SignedInAtKeysAsync(_project, "dev");
        var patches = new List<string>();
        page.Request += (_, request) =>
        {
            if (request.Method == "PATCH")
            {
                patches.Add(request.PostData ?? "");
            }
        };
        var row = ConsolePages.KeyRow(page, "secret", "ninety-key");
        await row.GetByRole(AriaRole.Button, new() { Name = "Edit ninety-key" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Edit key “ninety-key”" });
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync("ninety-renamed");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();

        Assert.Equal(["name"], JsonDocument.Parse(Assert.Single(patches)).RootElement.EnumerateObject().Select(p => p.Name));
        var saved = await KeyAsync(key.Key.Id);
        Assert.Equal("ninety-renamed", saved.GetProperty("name").GetString());
        AssertRateLimit(saved.GetProperty("rateLimit"), 10, 90, "local");

        // The dialog shows the window as it is.
        // The dialog opens once the key is re-read; the hidden form still holds the first opening's values until then.
        await ConsolePages.KeyRow(page, "secret", "ninety-renamed").GetByRole(AriaRole.Button, new() { Name = "Edit ninety-renamed" }).ClickAsync();
        var reopened = page.GetByRole(AriaRole.Dialog, new() { Name = "Edit key “ninety-renamed”" });
        await Expect(reopened).ToBeVisibleAsync();
        await Expect(reopened.Locator("#edit-key-window")).ToHaveValueAsync("90");
        await Expect(reopened.Locator("#edit-key-window option:checked")).ToHaveTextAsync("90 s");
        await page.Keyboard.PressAsync("Escape");
        await Expect(reopened).ToBeHiddenAsync();

        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        await Expect(page.Locator("#policy-window")).ToHaveValueAsync("300");
        await page.GetByLabel("Secret keys must expire within (days)").FillAsync("30");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save policies" }).ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("Key policies saved");

        Assert.Equal(2, patches.Count);
        Assert.Equal(["maxSecretKeyLifetimeDays"], JsonDocument.Parse(patches[1]).RootElement.EnumerateObject().Select(p => p.Name));
        var project = await ProjectAsync();
        Assert.Equal(30, project.GetProperty("maxSecretKeyLifetimeDays").GetInt32());
        AssertRateLimit(project.GetProperty("defaultRateLimit"), 1000, 300, "global");
    }

    [Fact]
    public async Task AWholeKeyPastedIntoTheSearchIsLookedUpByItsHashAndPutInNoUrl()
    {
        var here = await _admin.CreateKeyAsync(_project.Id, "dev", "pasted-here", "secret");
        await _admin.CreateKeyAsync(_project.Id, "dev", "other-key", "secret");
        var there = await _admin.CreateKeyAsync(_project.Id, "prod", "pasted-there", "publishable");
        var unknown = KeyString.Generate(ApiKeyType.Secret);
        var operatorToken = (await _pages.CreateOperatorAsync("viewer")).Token;

        var page = await _pages.SignedInAtKeysAsync(_project, "dev");
        var requests = new List<(string Method, string Url, string Body)>();
        page.Request += (_, request) => requests.Add((request.Method, request.Url, request.PostData ?? ""));
        var search = page.GetByRole(AriaRole.Searchbox, new() { Name = "Search" });
        var result = page.Locator("#key-find-result");

        // A key of this environment: named, and listed alone.
        await search.FillAsync(here.Value);
        await search.PressAsync("Enter");
        await Expect(result).ToContainTextAsync("That is the secret key “pasted-here” of this environment, listed below.");
        await Expect(result).ToBeFocusedAsync();
        await Expect(page.Locator("#secret-keys tbody .key-name")).ToHaveTextAsync(["pasted-here"]);
        await Expect(search).ToHaveValueAsync(here.Key.MaskedKey);

        // A key of another environment: where it lives.
        await search.FillAsync(there.Value);
        await search.PressAsync("Enter");
        await Expect(result).ToContainTextAsync($"That is the publishable key “pasted-there” of {_project.Name}, prod environment.");
        await Expect(result.GetByRole(AriaRole.Link, new() { Name = "Go to the keys of prod" })).ToBeVisibleAsync();

        await search.FillAsync(unknown);
        await search.PressAsync("Enter");
        await Expect(result).ToContainTextAsync("That is not a key of the projects you may see.");
        await Expect(result).ToContainTextAsync("KEY_NOT_FOUND");

        // An operator token is no key: not sent at all.
        await search.FillAsync(operatorToken);
        await search.PressAsync("Enter");
        await Expect(result).ToContainTextAsync("That is an operator token, not an API key: nothing was sent.");

        foreach (var value in new[] { here.Value, there.Value, unknown, operatorToken })
        {
            Assert.DoesNotContain(requests, r => r.Url.Contains(value, StringComparison.Ordinal));
            Assert.NotEqual(value, await search.InputValueAsync());
            Assert.DoesNotContain(value, await page.ContentAsync(), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(requests, r => r.Body.Contains(operatorToken, StringComparison.Ordinal));
        foreach (var value in new[] { here.Value, there.Value, unknown })
        {
            var find = Assert.Single(requests, r => r.Body.Contains(value, StringComparison.Ordinal));
            Assert.Equal(("POST", "/v1/keys:find"), (find.Method, new Uri(find.Url).AbsolutePath));
        }
    }

    [Fact]
    public async Task DoubleClickingNextOrPreviousMovesOnePageAndTheFirstPageStaysReachable()
    {
        const string environment = "prod";
        foreach (var chunk in Enumerable.Range(0, 30).Chunk(10))
        {
            await Task.WhenAll(chunk.Select(i => _admin.CreateKeyAsync(_project.Id, environment, $"paged-{i:00}", "secret")));
        }

        var page = await _pages.SignedInAtKeysAsync(_project, environment);
        var section = page.Locator("#secret-keys");
        var pageNumber = section.Locator(".pager [aria-live]");
        var next = section.GetByRole(AriaRole.Button, new() { Name = "Next secret keys" });
        var previous = section.GetByRole(AriaRole.Button, new() { Name = "Previous secret keys" });
        await Expect(section.Locator("tbody tr")).ToHaveCountAsync(25);

        await next.DblClickAsync();
        await Expect(pageNumber).ToHaveTextAsync("Page 2");
        await Expect(section.Locator("tbody tr")).ToHaveCountAsync(5);
        await Expect(next).ToBeDisabledAsync();

        await previous.DblClickAsync();
        await Expect(pageNumber).ToHaveTextAsync("Page 1");
        await Expect(section.Locator("tbody tr")).ToHaveCountAsync(25);
        await Expect(previous).ToBeDisabledAsync();

        await next.ClickAsync();
        await Expect(pageNumber).ToHaveTextAsync("Page 2");
        await Expect(section.Locator("tbody tr")).ToHaveCountAsync(5);
    }

    [Fact]
    public async Task EditDialogIsFilledFromTheKeyAsItIsNowAndSaysSoWhenTheKeyIsGone()
    {
        var key = await CreateKeyAsync("dev", "stale-key", scopes: ["orders:read", "orders:create"]);
        var doomed = await _admin.CreateKeyAsync(_project.Id, "dev", "doomed-key", "secret");
        var page = await _pages.SignedInAtKeysAsync(_project, "dev");
        var row = ConsolePages.KeyRow(page, "secret", "stale-key");
        await Expect(row.Locator(".badge.scope")).ToHaveTextAsync(["orders:read", "orders:create"]);

        // Another operator, after the list was drawn, removes a scope.
        await PatchKeyAsync(key.Key.Id, "dev", new { scopes = new[] { "orders:read" } });

        await row.GetByRole(AriaRole.Button, new() { Name = "Edit stale-key" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Edit key “stale-key”" });
        var scopes = dialog.GetByLabel("Scopes");
        await Expect(scopes).ToHaveValueAsync("orders:read");
        await scopes.FillAsync($"{await scopes.InputValueAsync()}, users:read");
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync("fresh-key");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();

        var saved = await KeyAsync(key.Key.Id);
        Assert.Equal("fresh-key", saved.GetProperty("name").GetString());
        Assert.Equal(["orders:read", "users:read"], saved.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));

        // A key deleted after the list was drawn: no dialog, and the list is drawn again without it.
        (await _admin.DeleteKeyAsync(_project.Id, "dev", doomed.Key.Id, "doomed-key")).EnsureSuccessStatusCode();
        await ConsolePages.KeyRow(page, "secret", "doomed-key").GetByRole(AriaRole.Button, new() { Name = "Edit doomed-key" }).ClickAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("Key doomed-key no longer exists");
        await Expect(ConsolePages.KeyRow(page, "secret", "doomed-key")).ToHaveCountAsync(0);
        await Expect(page.Locator("#edit-key-dialog")).ToBeHiddenAsync();
        await Expect(page.Locator("body")).Not.ToBeFocusedAsync();
    }

    [Fact]
    public async Task AfterAChangeTakesAKeyOutOfAFilteredListTheFocusGoesToTheRowInItsPlaceOrToTheHeading()
    {
        await _admin.CreateKeyAsync(_project.Id, "dev", "focus-older", "secret");
        await _admin.CreateKeyAsync(_project.Id, "dev", "focus-newer", "secret");
        var page = await _pages.SignedInAtKeysAsync(_project, "dev");
        var listed = page.Locator("#secret-keys tbody .key-name");
        var search = page.GetByRole(AriaRole.Searchbox, new() { Name = "Search" });
        await search.FillAsync("focus");
        await SecretKeysListedAfterAsync(page, () => search.PressAsync("Enter"), query => query["q"] == "focus");
        await SecretKeysListedAfterAsync(page, () => page.GetByLabel("Status").SelectOptionAsync("active"), query => query["status"] == "active");
        await Expect(listed).ToHaveTextAsync(["focus-newer", "focus-older"]);

        // Disabled, the first key leaves the list of active keys: the row now first takes the focus, on its Edit button.
        await ConsolePages.KeyRow(page, "secret", "focus-newer").GetByRole(AriaRole.Button, new() { Name = "Disable focus-newer" }).ClickAsync();
        await Expect(listed).ToHaveTextAsync(["focus-older"]);
        await Expect(ConsolePages.KeyRow(page, "secret", "focus-older").GetByRole(AriaRole.Button, new() { Name = "Edit focus-older" })).ToBeFocusedAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("Key focus-newer disabled.");
        await Expect(page.Locator("#status")).ToContainTextAsync("It no longer matches the search or the status filter, so it is not listed.");

        // Renamed, the last key leaves the search: the section's heading.
        await page.Keyboard.PressAsync("Enter");
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Edit key “focus-older”" });
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync("moved-key");
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Save changes" }).ClickAsync();
        await Expect(dialog).ToBeHiddenAsync();
        await Expect(listed).ToHaveCountAsync(0);
        await Expect(page.Locator("#secret-heading")).ToBeFocusedAsync();
        await Expect(page.Locator("#status")).ToContainTextAsync("Key moved-key updated.");
        await Expect(page.Locator("#status")).ToContainTextAsync("it is not listed");
    }

    [Fact]
    public async Task AProjectListingThatRepeatsAPageTokenStopsWithAnErrorInsteadOfReadingForEver()
    {
        var page = await _pages.NewPageAsync();
        var listings = 0;
        await page.RouteAsync(new Regex(@"/v1/projects\?"), async route =>
        {
            Interlocked.Increment(ref listings);
            await route.FulfillAsync(new()
            {
                Status = 200,
                ContentType = "application/json",
                Body = $$"""{"projects":[{"id":"{{_project.Id}}","name":"Looping","environments":[{"name":"dev"}]}],"nextPageToken":"again"}""",
            });
        });

        await page.GotoAsync("/");
        await page.GetByLabel("Operator token").FillAsync(fixture.AdminToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        await Expect(page.Locator("#sign-in-error")).ToContainTextAsync("KeyAdmin sent a page token it had sent before while listing projects");
        Assert.Equal(2, Volatile.Read(ref listings));
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

    private async Task PatchProjectAsync(object changes)
    {
        var response = await _admin.Http.PatchAsJsonAsync($"/v1/projects/{_project.Id}", changes);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static void AssertRateLimit(JsonElement limit, long requests, int windowSeconds, string mode)
    {
        Assert.Equal(requests, long.Parse(limit.GetProperty("limit").ToString(), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(windowSeconds, limit.GetProperty("windowSeconds").GetInt32());
        Assert.Equal(mode, limit.GetProperty("mode").GetString());
    }

    /// <summary>
    /// Runs <paramref name="action"/> and waits until the secret keys' listing it asked for (a GET whose query
    /// <paramref name="wanted"/> accepts) is answered and drawn (the page no longer busy): what is on the page after it is
    /// that answer, not the list before.
    /// </summary>
    private static async Task SecretKeysListedAfterAsync(IPage page, Func<Task> action, Func<NameValueCollection, bool> wanted)
    {
        await page.RunAndWaitForResponseAsync(action, response =>
        {
            if (response.Request.Method != "GET" || !response.Url.Contains("/keys?", StringComparison.Ordinal))
            {
                return false;
            }

            var query = HttpUtility.ParseQueryString(new Uri(response.Url).Query);
            return query["type"] == "secret" && wanted(query);
        });
        await Expect(page.Locator("#main")).Not.ToHaveAttributeAsync("aria-busy", "true");
    }

    private static async Task CollectViolationsAsync(IPage page, string where, List<string> violations)
    {
        var result = await page.RunAxe();
        violations.AddRange(result.Violations.Select(v =>
            $"{where}: {v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Select(n => n.Target.ToString()))}"));
    }
}
