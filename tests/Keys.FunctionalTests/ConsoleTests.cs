using System.Net;
using System.Text.RegularExpressions;
using Deque.AxeCore.Playwright;
using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Keys.FunctionalTests;

/// <summary>
/// The operator console in real headless Chromium, against the real system: every click goes through KeyAdmin's
/// public REST API, and what a click does to a key is checked at the gateway.
/// </summary>
[Collection(KeysCollection.Name)]
public sealed class ConsoleTests(KeysAppFixture fixture, ConsoleBrowser browser) : IClassFixture<ConsoleBrowser>, IAsyncLifetime
{
    private readonly KeyAdminClient _admin = fixture.CreateKeyAdminClient();
    private readonly ConsolePages _pages = new(fixture, browser);
    private ProjectDto _project = null!;

    private Uri KeyAdminAddress => _pages.KeyAdminAddress;

    public async Task InitializeAsync() =>
        _project = await _admin.CreateProjectAsync($"Console {Guid.NewGuid().ToString("N")[..8]}");

    public async Task DisposeAsync() => await _pages.DisposeAsync();

    [Fact]
    public async Task OperatorSignsInPicksProjectAndEnvironmentAndFindsTheProjectIdInSettings()
    {
        var page = await NewPageAsync();
        await page.GotoAsync("/");

        await page.GetByLabel("Admin token").FillAsync("not-the-admin-token");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("not accepted");

        await page.GetByLabel("Admin token").FillAsync(fixture.AdminToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        await page.Locator("#project-select").SelectOptionAsync(_project.Id);
        await Expect(page).ToHaveURLAsync(new Regex($"#/projects/{_project.Id}/environments/dev/keys$"));
        await page.Locator("#environment-select").SelectOptionAsync("staging");
        await Expect(page).ToHaveURLAsync(new Regex($"#/projects/{_project.Id}/environments/staging/keys$"));
        await Expect(page.Locator("#main")).ToContainTextAsync($"Keys of {_project.Name} in the staging environment");

        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Project settings" })).ToBeVisibleAsync();
        await Expect(page.Locator("#project-id")).ToHaveTextAsync(_project.Id);
    }

    [Fact]
    public async Task OperatorCreatesAProjectThenSignsOutWhichForgetsTheTokenAndAnyRevealedSecret()
    {
        var page = await SignedInAtKeysAsync("dev");
        var name = $"Console new {Guid.NewGuid().ToString("N")[..8]}";

        await page.GetByRole(AriaRole.Button, new() { Name = "New project" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "New project" });
        await dialog.GetByLabel("Name").FillAsync(name);
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create project" }).ClickAsync();

        await Expect(page.Locator("#main")).ToContainTextAsync($"Keys of {name} in the dev environment");
        var created = Assert.Single((await _admin.ListProjectsAsync()).Projects, p => p.Name == name);
        await Expect(page).ToHaveURLAsync(new Regex($"#/projects/{created.Id}/environments/dev/keys$"));
        await AddKeyAsync(page, "secret", "left-on-screen");
        var value = await page.Locator("#revealed-secret").InnerTextAsync();

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.GetByLabel("Admin token")).ToBeVisibleAsync();
        Assert.DoesNotContain(value, await page.ContentAsync());
        Assert.DoesNotContain(fixture.AdminToken, await page.EvaluateAsync<string>("() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage })"));
        await page.ReloadAsync();
        await Expect(page.GetByLabel("Admin token")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task ProjectNameWithMarkupIsShownAsText()
    {
        const string name = "<img src=x onerror=window.injected=1>";
        var project = await _admin.CreateProjectAsync(name);
        var page = await NewPageAsync();
        await page.GotoAsync($"/#/projects/{project.Id}/environments/dev/keys");
        await SignInAsync(page);

        await Expect(page.Locator("#main")).ToContainTextAsync($"Keys of {name} in the dev environment");
        await Expect(page.Locator("#project-select option:checked")).ToHaveTextAsync(name);
        Assert.Equal(0, await page.Locator("img").CountAsync());
        Assert.False(await page.EvaluateAsync<bool>("() => 'injected' in window"));
    }

    [Fact]
    public async Task SkipLinkMovesTheFocusToTheContentAndStaysOnThePage()
    {
        var page = await SignedInAtKeysAsync("staging");
        await page.ReloadAsync();
        await Expect(page.Locator("#main")).ToContainTextAsync("in the staging environment");

        await page.Keyboard.PressAsync("Tab");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Skip to content" })).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");

        await Expect(page.Locator("#main")).ToBeFocusedAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"#/projects/{_project.Id}/environments/staging/keys$"));
        await Expect(page.Locator("#main")).ToContainTextAsync("in the staging environment");
    }

    [Fact]
    public async Task GoingBackCancelsAnOpenAddKeyDialog()
    {
        var page = await SignedInAtKeysAsync("dev");
        await page.Locator("#environment-select").SelectOptionAsync("staging");
        await Expect(page.Locator("#main")).ToContainTextAsync("in the staging environment");
        await page.Locator("#secret-keys").GetByRole(AriaRole.Button, new() { Name = "Add Key" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Add secret key" });
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync("meant-for-staging");

        await page.GoBackAsync();

        await Expect(page.Locator("#main")).ToContainTextAsync("in the dev environment");
        await Expect(dialog).ToHaveCountAsync(0);
        Assert.Empty((await _admin.ListKeysAsync(_project.Id, "dev")).Keys);
        Assert.Empty((await _admin.ListKeysAsync(_project.Id, "staging")).Keys);
    }

    [Fact]
    public async Task DashboardLinksToTheConsole()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var snapshot = await fixture.App.ResourceNotifications.WaitForResourceAsync(
            "key-admin", e => e.Snapshot.Urls.Any(u => u.DisplayProperties.DisplayName == "API Keys console"), timeout.Token);
        var link = snapshot.Snapshot.Urls.Single(u => u.DisplayProperties.DisplayName == "API Keys console");

        var page = await NewPageAsync();
        await page.GotoAsync(link.Url);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Keys console" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task NewEnvironmentShowsEmptySectionsThatSayWhatToDo()
    {
        var page = await SignedInAtKeysAsync("dev");

        await Expect(page.Locator("#publishable-keys")).ToContainTextAsync("No publishable keys here yet. Add one");
        await Expect(page.Locator("#secret-keys")).ToContainTextAsync("No secret keys here yet. Add one");
        await Expect(page.GetByRole(AriaRole.Table)).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task PublishableKeyIsVisibleInTheListAndClickingItCopiesIt()
    {
        var page = await SignedInAtKeysAsync("dev");

        await AddKeyAsync(page, "publishable", "web-app", scopes: "orders:read, users:*");

        var listed = Assert.Single((await _admin.ListKeysAsync(_project.Id, "dev")).Keys);
        Assert.NotNull(listed.Value);
        Assert.True(KeyString.TryParse(listed.Value, out var parsed) && parsed == ApiKeyType.Publishable);
        var row = KeyRow(page, "publishable", "web-app");
        await Expect(row.Locator(".key-value code")).ToHaveTextAsync(listed.Value);
        await Expect(row).ToContainTextAsync("orders:read");

        await row.Locator(".key-value").ClickAsync();
        await ExpectClipboardAsync(page, listed.Value);

        using var gateway = fixture.CreateGatewayClient();
        // A scoped key calls routes that name their scope: here, orders as the table.
        var response = await gateway.SendAsync(GatewayResponses.Get("/v1/data/orders", listed.Value));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task SecretKeyIsShownOnceThenOnlyMaskedAfterReloadOrLeaving()
    {
        var page = await SignedInAtKeysAsync("dev");

        await AddKeyAsync(page, "secret", "backend");

        var reveal = page.GetByRole(AriaRole.Region, new() { Name = "Copy your new secret key" });
        await Expect(reveal).ToContainTextAsync("It will not be shown again");
        await Expect(reveal).ToBeFocusedAsync();
        var value = await reveal.Locator("#revealed-secret").InnerTextAsync();
        Assert.True(KeyString.TryParse(value, out var parsed) && parsed == ApiKeyType.Secret, "the revealed value is a well-formed secret key");

        await reveal.GetByRole(AriaRole.Button, new() { Name = "Copy" }).ClickAsync();
        await ExpectClipboardAsync(page, value);

        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/private/x", value))).StatusCode);

        var listed = Assert.Single((await _admin.ListKeysAsync(_project.Id, "dev")).Keys);
        var maskedCell = KeyRow(page, "secret", "backend").Locator(".key-value code");
        await Expect(maskedCell).ToHaveTextAsync(listed.MaskedKey);
        Assert.DoesNotContain(value, await page.EvaluateAsync<string>(
            "() => location.href + document.cookie + JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage })"));
        await ConsoleBrowser.SaveScreenshotAsync(page, "api-keys-secret-revealed", hide: reveal.Locator("#revealed-secret"));

        await page.ReloadAsync();
        await Expect(maskedCell).ToHaveTextAsync(listed.MaskedKey);
        await Expect(reveal).ToHaveCountAsync(0);
        Assert.DoesNotContain(value, await page.ContentAsync());
        await ConsoleBrowser.SaveScreenshotAsync(page, "api-keys");

        // Leaving for another environment and coming back is as final as a reload.
        await AddKeyAsync(page, "secret", "second-backend");
        var secondValue = await reveal.Locator("#revealed-secret").InnerTextAsync();
        await page.Locator("#environment-select").SelectOptionAsync("prod");
        await Expect(page.Locator("#main")).ToContainTextAsync("in the prod environment");
        await page.Locator("#environment-select").SelectOptionAsync("dev");
        await Expect(KeyRow(page, "secret", "second-backend")).ToBeVisibleAsync();
        await Expect(reveal).ToHaveCountAsync(0);
        Assert.DoesNotContain(secondValue, await page.ContentAsync());
    }

    [Fact]
    public async Task ListShowsWhenTheGatewayLastSawAKeyAndWhenItExpires()
    {
        var used = await _admin.CreateKeyAsync(_project.Id, "dev", "used-key", "secret");
        var page = await SignedInAtKeysAsync("dev");
        await Expect(KeyRow(page, "secret", "used-key").Locator("td").Nth(2)).ToHaveTextAsync("Never");

        using var gateway = fixture.CreateGatewayClient();
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/private/x", used.Value))).StatusCode);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        DateTimeOffset? lastUsed = null;
        while (lastUsed is null && clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            await Task.Delay(250);
            lastUsed = (await _admin.ListKeysAsync(_project.Id, "dev")).Keys.Single().LastUsedAt;
        }

        Assert.NotNull(lastUsed);
        await page.ReloadAsync();
        var lastUsedCell = KeyRow(page, "secret", "used-key").Locator("td").Nth(2);
        await Expect(lastUsedCell).ToHaveTextAsync(new Regex("just now|seconds? ago|minute ago"));
        var shown = DateTimeOffset.Parse(await lastUsedCell.Locator("time").GetAttributeAsync("datetime") ?? "", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(lastUsed, shown);

        await page.Locator("#publishable-keys").GetByRole(AriaRole.Button, new() { Name = "Add Key" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Add publishable key" });
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync("expiring-key");
        await dialog.GetByLabel("Expires").SelectOptionAsync("date");
        var day = DateTime.UtcNow.Date.AddDays(40);
        await dialog.GetByLabel("Expiry date").FillAsync(day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create", Exact = true }).ClickAsync();

        var expiring = KeyRow(page, "publishable", "expiring-key");
        await Expect(expiring).ToContainTextAsync("Expires");
        var expiresAt = (await _admin.ListKeysAsync(_project.Id, "dev")).Keys.Single(k => k.Name == "expiring-key").ExpiresAt;
        Assert.NotNull(expiresAt);
        // The end of the chosen day where the browser is (UTC, see ConsoleBrowser).
        Assert.Equal(new DateTimeOffset(day.AddDays(1).AddMilliseconds(-1), TimeSpan.Zero), expiresAt.Value);
    }

    [Fact]
    public async Task DeleteStaysDisabledUntilTheNameMatchesThenEveryGatewayRejectsTheKey()
    {
        var key = await _admin.CreateKeyAsync(_project.Id, "dev", "doomed-key", "secret");
        var gateways = (await fixture.GetReplicaAddressesAsync("gateway", "http", replicas: 2))
            .Select(address => new HttpClient { BaseAddress = address }).ToList();
        try
        {
            // Each gateway has the key in its near cache before the delete.
            foreach (var gateway in gateways.Concat(gateways))
            {
                Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/private/x", key.Value))).StatusCode);
            }

            var page = await SignedInAtKeysAsync("dev");
            var deletes = 0;
            page.Request += (_, request) => deletes += request.Method == "DELETE" ? 1 : 0;
            var row = KeyRow(page, "secret", "doomed-key");
            await row.GetByRole(AriaRole.Button, new() { Name = "Delete doomed-key" }).ClickAsync();

            var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Delete key “doomed-key”?" });
            await Expect(dialog).ToContainTextAsync("Apps using this key will fail");
            var confirm = dialog.GetByRole(AriaRole.Button, new() { Name = "Confirm Delete" });
            var typedName = dialog.GetByLabel("Type doomed-key to confirm");
            await Expect(confirm).ToBeDisabledAsync();
            foreach (var wrong in new[] { "doomed-ke", "Doomed-key", "doomed-key ", key.Key.Id })
            {
                await typedName.FillAsync(wrong);
                await Expect(confirm).ToBeDisabledAsync();
            }

            await typedName.PressAsync("Enter");
            await Expect(dialog).ToBeVisibleAsync();
            Assert.Equal(0, deletes);
            Assert.Contains((await _admin.ListKeysAsync(_project.Id, "dev")).Keys, k => k.Id == key.Key.Id);

            await typedName.FillAsync("doomed-key");
            await Expect(confirm).ToBeEnabledAsync();
            await confirm.ClickAsync();

            await Expect(dialog).ToBeHiddenAsync();
            await Expect(row).ToHaveCountAsync(0);
            Assert.Equal(1, deletes);
            Assert.DoesNotContain((await _admin.ListKeysAsync(_project.Id, "dev")).Keys, k => k.Id == key.Key.Id);
            foreach (var gateway in gateways)
            {
                var response = await gateway.FirstRejectionAsync("/demo/private/x", key.Value, within: TimeSpan.FromSeconds(1));
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                Assert.Equal("TOKEN_REVOKED", (await response.ReadErrorAsync()).Error);
            }
        }
        finally
        {
            gateways.ForEach(g => g.Dispose());
        }
    }

    [Fact]
    public async Task RollingASecretKeyRevealsTheNewValueOnceAndTheOldKeyStopsAsChosen()
    {
        var stopsNow = await _admin.CreateKeyAsync(_project.Id, "dev", "roll-now", "secret");
        var keepsAnHour = await _admin.CreateKeyAsync(_project.Id, "dev", "roll-later", "secret");
        using var gateway = fixture.CreateGatewayClient();
        var page = await SignedInAtKeysAsync("dev");

        var newValue = await RollAsync(page, stopsNow.Key, "Not at all: it stops now");
        Assert.NotEqual(stopsNow.Value, newValue);
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/private/x", newValue))).StatusCode);
        var oldAnswer = await gateway.FirstRejectionAsync("/demo/private/x", stopsNow.Value, within: TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.Unauthorized, oldAnswer.StatusCode);
        await Expect(KeyRow(page, "secret", "roll-now")).ToHaveCountAsync(1);

        await RollAsync(page, keepsAnHour.Key, "For 1 hour");
        var oldRow = page.Locator($"tr[data-key-id='{keepsAnHour.Key.Id}']");
        await Expect(oldRow).ToContainTextAsync("Rolled: stops in 1 hour");
        await Expect(oldRow.GetByRole(AriaRole.Button, new() { Name = "Roll roll-later", Exact = true })).ToHaveCountAsync(0);
        Assert.Equal(HttpStatusCode.OK, (await gateway.SendAsync(GatewayResponses.Get("/demo/private/x", keepsAnHour.Value))).StatusCode);
        Assert.Equal(2, (await _admin.ListKeysAsync(_project.Id, "dev")).Keys.Count(k => k.Name == "roll-later"));
    }

    [Fact]
    public async Task ApiErrorsAreShownInTheApisOwnWords()
    {
        await _admin.CreateKeyAsync(_project.Id, "dev", "taken-name", "publishable");
        var page = await SignedInAtKeysAsync("dev");
        await page.Locator("#publishable-keys").GetByRole(AriaRole.Button, new() { Name = "Add Key" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "Add publishable key" });

        (string Name, string Scopes, HttpStatusCode Status, string Reason)[] attempts =
        [
            ("bad/name", "", HttpStatusCode.BadRequest, "INVALID_KEY_NAME"),
            ("good-name", "orders:write", HttpStatusCode.BadRequest, "INVALID_SCOPE"),
            ("taken-name", "", HttpStatusCode.Conflict, "KEY_NAME_TAKEN"),
        ];
        foreach (var (name, scopes, status, reason) in attempts)
        {
            // What the API says to the same request, word for word, is what the operator must read.
            var body = new { name, type = "publishable", scopes = scopes.Length == 0 ? [] : new[] { scopes } };
            var expected = await KeyAdminClient.AssertErrorAsync(await _admin.PostKeyAsync(_project.Id, "dev", body), status, reason);

            await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync(name);
            await dialog.GetByLabel("Scopes").FillAsync(scopes);
            await dialog.GetByRole(AriaRole.Button, new() { Name = "Create", Exact = true }).ClickAsync();

            var error = dialog.GetByRole(AriaRole.Alert);
            await Expect(error).ToContainTextAsync(expected.Message);
            await Expect(error).ToContainTextAsync(reason);
            await Expect(dialog).ToBeVisibleAsync();
        }

        Assert.Equal(["taken-name"], (await _admin.ListKeysAsync(_project.Id, "dev")).Keys.Select(k => k.Name));
    }

    [Fact]
    public async Task OperatorCreatesCopiesAndDeletesAKeyWithTheKeyboardAlone()
    {
        var page = await NewPageAsync();
        await page.GotoAsync($"/#/projects/{_project.Id}/environments/dev/keys");

        await Expect(page.GetByLabel("Admin token")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync(fixture.AdminToken);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.Locator("#main")).ToContainTextAsync($"Keys of {_project.Name}");

        // Escape leaves a dialog and puts the focus back where it was.
        var addSecret = page.Locator("#secret-keys").GetByRole(AriaRole.Button, new() { Name = "Add Key" });
        await TabToAsync(page, addSecret);
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Dialog)).ToBeVisibleAsync();
        await page.Keyboard.PressAsync("Escape");
        await Expect(page.GetByRole(AriaRole.Dialog)).ToHaveCountAsync(0);
        await Expect(addSecret).ToBeFocusedAsync();

        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByRole(AriaRole.Dialog).GetByLabel("Name", new() { Exact = true })).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync("keyboard-key");
        await page.Keyboard.PressAsync("Enter");

        var reveal = page.GetByRole(AriaRole.Region, new() { Name = "Copy your new secret key" });
        await Expect(reveal).ToBeFocusedAsync();
        var value = await reveal.Locator("#revealed-secret").InnerTextAsync();
        await TabToAsync(page, reveal.GetByRole(AriaRole.Button, new() { Name = "Copy" }));
        await page.Keyboard.PressAsync("Enter");
        await ExpectClipboardAsync(page, value);
        await TabToAsync(page, reveal.GetByRole(AriaRole.Button, new() { Name = "Done" }));
        await page.Keyboard.PressAsync("Enter");
        await Expect(reveal).ToHaveCountAsync(0);

        await TabToAsync(page, page.GetByRole(AriaRole.Button, new() { Name = "Delete keyboard-key" }));
        await page.Keyboard.PressAsync("Enter");
        await Expect(page.GetByLabel("Type keyboard-key to confirm")).ToBeFocusedAsync();
        await page.Keyboard.TypeAsync("keyboard-key");
        await page.Keyboard.PressAsync("Enter");

        await Expect(KeyRow(page, "secret", "keyboard-key")).ToHaveCountAsync(0);
        Assert.Empty((await _admin.ListKeysAsync(_project.Id, "dev")).Keys);
    }

    [Fact]
    public async Task EveryRequestTheConsoleMakesGoesToKeyAdminItself()
    {
        var page = await NewPageAsync();
        var requests = new List<string>();
        var failures = new List<string>();
        page.Request += (_, request) => requests.Add(request.Url);
        page.RequestFailed += (_, request) => failures.Add($"{request.Url}: {request.Failure}");
        page.PageError += (_, error) => failures.Add(error);
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                failures.Add(message.Text);
            }
        };

        var document = await page.GotoAsync("/");
        Assert.Contains("default-src 'self'", (await document!.AllHeadersAsync())["content-security-policy"]);
        await SignInAsync(page);
        await page.GotoAsync($"/#/projects/{_project.Id}/environments/dev/keys");
        await AddKeyAsync(page, "secret", "asset-check");
        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        await Expect(page.Locator("#project-id")).ToHaveTextAsync(_project.Id);
        await Expect(page.GetByRole(AriaRole.Cell, new() { Name = "asset-check" })).ToBeVisibleAsync();

        var origin = KeyAdminAddress.GetLeftPart(UriPartial.Authority);
        Assert.NotEmpty(requests);
        Assert.All(requests, url => Assert.StartsWith(origin + "/", url, StringComparison.Ordinal));
        Assert.Empty(failures);
    }

    [Fact]
    public async Task ConsoleHasNoAccessibilityViolations()
    {
        await _admin.CreateKeyAsync(_project.Id, "dev", "a11y-publishable", "publishable");
        await _admin.CreateKeyAsync(_project.Id, "dev", "a11y-secret", "secret");
        var page = await NewPageAsync();
        var violations = new List<string>();

        await page.GotoAsync("/");
        await CollectViolationsAsync(page, "sign in", violations);
        await SignInAsync(page);
        await page.GotoAsync($"/#/projects/{_project.Id}/environments/dev/keys");
        await AddKeyAsync(page, "secret", "a11y-revealed");
        await CollectViolationsAsync(page, "API keys, with a secret revealed", violations);
        await page.Locator("#publishable-keys").GetByRole(AriaRole.Button, new() { Name = "Add Key" }).ClickAsync();
        await CollectViolationsAsync(page, "Add Key dialog", violations);
        await page.Keyboard.PressAsync("Escape");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete a11y-secret" }).ClickAsync();
        await CollectViolationsAsync(page, "Delete dialog", violations);
        await page.Keyboard.PressAsync("Escape");
        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Cell, new() { Name = "a11y-revealed" })).ToBeVisibleAsync();
        await CollectViolationsAsync(page, "settings", violations);

        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    private Task<IPage> NewPageAsync() => _pages.NewPageAsync();

    private Task<IPage> SignedInAtKeysAsync(string environment) => _pages.SignedInAtKeysAsync(_project, environment);

    private Task SignInAsync(IPage page) => _pages.SignInAsync(page);

    private static async Task AddKeyAsync(IPage page, string type, string name, string scopes = "")
    {
        await page.Locator($"#{type}-keys").GetByRole(AriaRole.Button, new() { Name = "Add Key" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = $"Add {type} key" });
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync(name);
        await dialog.GetByLabel("Scopes").FillAsync(scopes);
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create", Exact = true }).ClickAsync();
        await Expect(dialog).ToHaveCountAsync(0);
        await Expect(KeyRow(page, type, name)).ToBeVisibleAsync();
    }

    /// <summary>Rolls a key through its row's Roll dialog and returns the new value the page reveals.</summary>
    private static async Task<string> RollAsync(IPage page, ApiKeyDto key, string keepOldKeyWorking)
    {
        await page.Locator($"tr[data-key-id='{key.Id}']").GetByRole(AriaRole.Button, new() { Name = $"Roll {key.Name}", Exact = true }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = $"Roll key “{key.Name}”?" });
        await dialog.GetByLabel("The old key keeps working").SelectOptionAsync(new SelectOptionValue { Label = keepOldKeyWorking });
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Roll Key" }).ClickAsync();
        await Expect(dialog).ToHaveCountAsync(0);

        var reveal = page.GetByRole(AriaRole.Region, new() { Name = $"Copy your new secret key “{key.Name}” now" });
        await Expect(reveal).ToBeFocusedAsync();
        var value = await reveal.Locator("#revealed-secret").InnerTextAsync();
        Assert.True(KeyString.TryParse(value, out var parsed) && parsed == ApiKeyType.Secret);
        return value;
    }

    private static ILocator KeyRow(IPage page, string type, string name) => ConsolePages.KeyRow(page, type, name);

    /// <summary>Waits for the clipboard to hold <paramref name="expected"/>: the page writes it asynchronously.</summary>
    private static async Task ExpectClipboardAsync(IPage page, string expected)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string actual;
        while ((actual = await page.EvaluateAsync<string>("() => navigator.clipboard.readText()")) != expected && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
        }

        Assert.Equal(expected, actual);
    }

    /// <summary>Presses Tab until <paramref name="target"/> has the focus: proof that the keyboard alone reaches it.</summary>
    private static async Task TabToAsync(IPage page, ILocator target)
    {
        for (var presses = 0; presses < 60; presses++)
        {
            await page.Keyboard.PressAsync("Tab");
            if (await target.EvaluateAsync<bool>("element => element === document.activeElement"))
            {
                return;
            }
        }

        Assert.Fail($"60 presses of Tab never reached {target}.");
    }

    private static async Task CollectViolationsAsync(IPage page, string where, List<string> violations)
    {
        var result = await page.RunAxe();
        violations.AddRange(result.Violations.Select(v =>
            $"{where}: {v.Id} ({v.Impact}): {v.Help} at {string.Join(", ", v.Nodes.Select(n => n.Target.ToString()))}"));
    }
}
