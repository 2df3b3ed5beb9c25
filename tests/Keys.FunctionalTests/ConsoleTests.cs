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

        await page.GetByLabel("Operator token").FillAsync("not-the-admin-token");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("not accepted");

        await page.GetByLabel("Operator token").FillAsync(fixture.AdminToken);
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
        await Expect(page.GetByLabel("Operator token")).ToBeVisibleAsync();
        Assert.DoesNotContain(value, await page.ContentAsync());
        Assert.DoesNotContain(fixture.AdminToken, await page.EvaluateAsync<string>("() => JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage })"));
        await page.ReloadAsync();
        await Expect(page.GetByLabel("Operator token")).ToBeVisibleAsync();
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

        await Expect(page.GetByLabel("Operator token")).ToBeFocusedAsync();
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

    [Fact]
    public async Task TheTopBarNamesWhoIsSignedInAndTheirRole()
    {
        var admin = await SignedInAtKeysAsync("dev");
        await Expect(admin.Locator("#signed-in-as")).ToHaveTextAsync("Signed in as admin-token · owner (break-glass)");

        var editor = await _pages.CreateOperatorAsync("editor");
        var page = await SignedInAtKeysAsync("dev", editor.Token);
        await Expect(page.Locator("#signed-in-as")).ToHaveTextAsync($"Signed in as {editor.Operator.Name} · editor");

        // A reload keeps this tab's session and asks KeyAdmin again who it is.
        await page.ReloadAsync();
        await Expect(page.Locator("#main")).ToContainTextAsync($"Keys of {_project.Name}");
        await Expect(page.Locator("#signed-in-as")).ToHaveTextAsync($"Signed in as {editor.Operator.Name} · editor");
    }

    [Fact]
    public async Task AViewerSeesNoWriteActionsAndStillReadsKeysAndActivity()
    {
        var publishable = await _admin.CreateKeyAsync(_project.Id, "dev", "viewed-publishable", "publishable");
        var secret = await _admin.CreateKeyAsync(_project.Id, "dev", "viewed-secret", "secret");
        var viewer = await _pages.CreateOperatorAsync("viewer");

        var page = await SignedInAtKeysAsync("dev", viewer.Token);

        await Expect(page.Locator("#signed-in-as")).ToHaveTextAsync($"Signed in as {viewer.Operator.Name} · viewer");
        await Expect(KeyRow(page, "publishable", "viewed-publishable").Locator(".key-value code")).ToHaveTextAsync(publishable.Value);
        await Expect(KeyRow(page, "secret", "viewed-secret").Locator(".key-value code")).ToHaveTextAsync(secret.Key.MaskedKey);
        await KeyRow(page, "publishable", "viewed-publishable").Locator(".key-value").ClickAsync();
        await ExpectClipboardAsync(page, publishable.Value);
        foreach (var action in new[] { "Add Key", "Roll", "Delete", "New project" })
        {
            await Expect(page.GetByRole(AriaRole.Button, new() { Name = action })).ToHaveCountAsync(0);
        }

        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Operators" })).ToHaveCountAsync(0);

        await page.Locator("#environment-select").SelectOptionAsync("staging");
        await Expect(page.Locator("#secret-keys")).ToContainTextAsync("No secret keys here yet.");
        await Expect(page.Locator("#secret-keys")).Not.ToContainTextAsync("Add one");

        await page.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        await Expect(page.Locator("#project-id")).ToHaveTextAsync(_project.Id);
        await Expect(page.GetByRole(AriaRole.Cell, new() { Name = "viewed-secret" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Add environment" })).ToHaveCountAsync(0);
        await Expect(page.GetByLabel("New environment")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task AnEditorLimitedToAProjectSeesOnlyItAndIsToldInWordsWhyAnotherIsRefusedWithoutBeingSignedOut()
    {
        var other = await _admin.CreateProjectAsync($"Console other {Guid.NewGuid().ToString("N")[..8]}");
        var editor = await _pages.CreateOperatorAsync("editor", projectIds: [_project.Id]);
        var refusal = await KeyAdminClient.AssertErrorAsync(
            await fixture.CreateKeyAdminClient(editor.Token).Http.GetAsync($"/v1/projects/{other.Id}"), HttpStatusCode.Forbidden, "PROJECT_NOT_ALLOWED");

        var page = await SignedInAtKeysAsync("dev", editor.Token);

        await Expect(page.Locator("#project-select option")).ToHaveTextAsync(new[] { _project.Name });
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "New project" })).ToHaveCountAsync(0);
        await Expect(page.Locator("#secret-keys").GetByRole(AriaRole.Button, new() { Name = "Add Key" })).ToBeVisibleAsync();

        await page.GotoAsync($"/#/projects/{other.Id}/environments/dev/keys");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Not allowed" })).ToBeVisibleAsync();
        var error = page.Locator("#main").GetByRole(AriaRole.Alert);
        await Expect(error).ToContainTextAsync(refusal.Message);
        await Expect(error).ToContainTextAsync("PROJECT_NOT_ALLOWED");
        await Expect(page.Locator("#signed-in-as")).ToHaveTextAsync($"Signed in as {editor.Operator.Name} · editor");
        await page.GetByRole(AriaRole.Link, new() { Name = "Go to your first project" }).ClickAsync();
        await Expect(page.Locator("#main")).ToContainTextAsync($"Keys of {_project.Name} in the dev environment");
    }

    [Fact]
    public async Task AnOwnerCreatesAnOperatorSeesItsTokenOnceAndThatTokenSignsInAsThatOperator()
    {
        var name = $"ana-{Guid.NewGuid().ToString("N")[..8]}";
        var page = await SignedInAtKeysAsync("dev");
        var creates = 0;
        page.Request += (_, request) => creates += request.Method == "POST" && request.Url.EndsWith("/v1/operators", StringComparison.Ordinal) ? 1 : 0;

        await page.GetByRole(AriaRole.Link, new() { Name = "Operators" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("#/operators$"));
        await page.GetByRole(AriaRole.Button, new() { Name = "New operator" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "New operator" });
        await Expect(dialog.GetByLabel("Name", new() { Exact = true })).ToBeFocusedAsync();
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync(name);
        // An owner's token reaches every project: there is no choice of projects to offer.
        await dialog.GetByLabel("Role", new() { Exact = true }).SelectOptionAsync("owner");
        await Expect(dialog.GetByRole(AriaRole.Group, new() { Name = "Projects" })).ToBeHiddenAsync();
        await dialog.GetByLabel("Role", new() { Exact = true }).SelectOptionAsync("editor");
        await dialog.GetByRole(AriaRole.Checkbox, new() { Name = _project.Name, Exact = true }).CheckAsync();
        await dialog.GetByLabel("Expires", new() { Exact = true }).SelectOptionAsync(new SelectOptionValue { Label = "In 30 days" });
        var submitted = DateTimeOffset.UtcNow;
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create operator" }).ClickAsync();

        await Expect(dialog).ToHaveCountAsync(0);
        var reveal = page.GetByRole(AriaRole.Region, new() { Name = $"Copy the token of “{name}” now" });
        await Expect(reveal).ToBeFocusedAsync();
        await Expect(reveal).ToContainTextAsync("It will not be shown again");
        var token = await reveal.Locator("#revealed-token").InnerTextAsync();
        Assert.True(OperatorToken.IsWellFormed(token), "the revealed value is a well-formed operator token");
        await reveal.GetByRole(AriaRole.Button, new() { Name = "Copy" }).ClickAsync();
        await ExpectClipboardAsync(page, token);
        Assert.Equal(1, creates);

        var listed = Assert.Single(await _pages.ListOperatorsAsync(), o => o.Name == name);
        Assert.Equal(("editor", _project.Id, "admin-token"), (listed.Role, Assert.Single(listed.ProjectIds), listed.CreatedBy));
        Assert.NotNull(listed.ExpiresAt);
        Assert.InRange(listed.ExpiresAt.Value, submitted.AddDays(30).AddMinutes(-1), submitted.AddDays(30).AddMinutes(1));
        var row = OperatorRow(page, name);
        await Expect(row.Locator("td")).ToHaveTextAsync(new object[]
            {
                "editor",
                _project.Name,
                listed.MaskedToken,
                new Regex(@"^\w{3} \d{1,2}, \d{4} by admin-token$"),
                new Regex(@"^\w{3} \d{1,2}, \d{4}$"),
                "Active",
                new Regex("^Revoke"),
            }.Select(ToRegex));
        Assert.DoesNotContain(token, await page.EvaluateAsync<string>(
            "() => location.href + document.cookie + JSON.stringify({ ...sessionStorage }) + JSON.stringify({ ...localStorage })"));
        await ConsoleBrowser.SaveScreenshotAsync(page, "operators-token-revealed", reveal.Locator("#revealed-token"));

        await page.ReloadAsync();
        await Expect(row).ToBeVisibleAsync();
        await Expect(reveal).ToHaveCountAsync(0);
        Assert.DoesNotContain(token, await page.ContentAsync());

        var theirs = await NewPageAsync();
        await theirs.GotoAsync("/");
        await SignInAsync(theirs, token);
        await Expect(theirs.Locator("#signed-in-as")).ToHaveTextAsync($"Signed in as {name} · editor");
        await Expect(theirs.Locator("#main")).ToContainTextAsync($"Keys of {_project.Name} in the dev environment");
        await Expect(theirs.Locator("#project-select option")).ToHaveTextAsync(new[] { _project.Name });
    }

    [Fact]
    public async Task AnOwnerRevokesAnOperatorAndThatOperatorsOpenConsoleIsSignedOutWithTheRevokedMessage()
    {
        var viewer = await _pages.CreateOperatorAsync("viewer");
        var name = viewer.Operator.Name;
        var theirs = await SignedInAtKeysAsync("dev", viewer.Token);
        await Expect(theirs.Locator("#signed-in-as")).ToHaveTextAsync($"Signed in as {name} · viewer");

        var owner = await NewPageAsync();
        await owner.GotoAsync("/#/operators");
        await SignInAsync(owner);
        var row = OperatorRow(owner, name);
        await Expect(row).ToContainTextAsync("Active");
        var revokes = 0;
        owner.Request += (_, request) => revokes += request.Url.EndsWith(":revoke", StringComparison.Ordinal) ? 1 : 0;
        await row.GetByRole(AriaRole.Button, new() { Name = $"Revoke {name}", Exact = true }).ClickAsync();

        var dialog = owner.GetByRole(AriaRole.Dialog, new() { Name = $"Revoke operator “{name}”?" });
        await Expect(dialog).ToContainTextAsync("Their token stops working at once");
        var typedName = dialog.GetByLabel($"Type {name} to confirm");
        await Expect(typedName).ToBeFocusedAsync();
        var confirm = dialog.GetByRole(AriaRole.Button, new() { Name = "Confirm Revoke" });
        foreach (var wrong in new[] { "", name[..^1], name.ToUpperInvariant(), $"{name} " })
        {
            await typedName.FillAsync(wrong);
            await Expect(confirm).ToBeDisabledAsync();
        }

        await typedName.PressAsync("Enter");
        Assert.Equal(0, revokes);
        await typedName.FillAsync(name);
        await confirm.ClickAsync();

        await Expect(dialog).ToHaveCountAsync(0);
        await Expect(row.Locator("td").Nth(5)).ToHaveTextAsync(new Regex("^Revoked by admin-token (just now|in a moment)$"));
        await Expect(row.GetByRole(AriaRole.Button)).ToHaveCountAsync(0);
        await Expect(owner.GetByRole(AriaRole.Button, new() { Name = "New operator" })).ToBeFocusedAsync();
        Assert.Equal(1, revokes);
        Assert.NotNull(Assert.Single(await _pages.ListOperatorsAsync(), o => o.Id == viewer.Operator.Id).RevokedAt);

        // Their console learns of it on its next step, and says why in the API's words.
        var refusal = await KeyAdminClient.AssertErrorAsync(
            await fixture.CreateKeyAdminClient(viewer.Token).Http.GetAsync("/v1/operators/current"), HttpStatusCode.Unauthorized, "TOKEN_REVOKED");
        await theirs.GetByRole(AriaRole.Link, new() { Name = "Settings" }).ClickAsync();
        await Expect(theirs.GetByLabel("Operator token")).ToBeFocusedAsync();
        var error = theirs.Locator("#sign-in-error");
        await Expect(error).ToContainTextAsync(refusal.Message);
        await Expect(error).ToContainTextAsync("TOKEN_REVOKED");
        await Expect(theirs.Locator("#app-view")).ToBeHiddenAsync();
        Assert.DoesNotContain(viewer.Token, await theirs.EvaluateAsync<string>("() => JSON.stringify({ ...sessionStorage })"));
    }

    [Fact]
    public async Task SigningInWithAnExpiredTokenSaysSoInTheApisWords()
    {
        var expiring = await _pages.CreateOperatorAsync("viewer", expiresAt: DateTimeOffset.UtcNow.AddSeconds(2));
        await Clock.PastAsync(expiring.Operator.ExpiresAt!.Value);
        var refusal = await KeyAdminClient.AssertErrorAsync(
            await fixture.CreateKeyAdminClient(expiring.Token).Http.GetAsync("/v1/operators/current"), HttpStatusCode.Unauthorized, "TOKEN_EXPIRED");
        var page = await NewPageAsync();
        await page.GotoAsync("/");

        await page.GetByLabel("Operator token").FillAsync(expiring.Token);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();

        var error = page.GetByRole(AriaRole.Alert);
        await Expect(error).ToContainTextAsync(refusal.Message);
        await Expect(error).ToContainTextAsync("TOKEN_EXPIRED");
        await Expect(page.Locator("#app-view")).ToBeHiddenAsync();
    }

    [Fact]
    public async Task ANonOwnerHasNoOperatorsLinkAndTheOperatorsPageSaysItNeedsTheOwnerRole()
    {
        var editor = await _pages.CreateOperatorAsync("editor");
        var page = await SignedInAtKeysAsync("dev", editor.Token);
        var requests = new List<string>();
        page.Request += (_, request) => requests.Add(request.Url);

        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Operators" })).ToHaveCountAsync(0);
        await page.GotoAsync("/#/operators");

        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Operators" })).ToBeVisibleAsync();
        await Expect(page.Locator("#main")).ToContainTextAsync(
            $"Managing operators needs the owner role; you are signed in as {editor.Operator.Name}, an editor.");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "New operator" })).ToHaveCountAsync(0);
        await Expect(page.Locator("#signed-in-as")).ToHaveTextAsync($"Signed in as {editor.Operator.Name} · editor");
        Assert.DoesNotContain(requests, url => new Uri(url).AbsolutePath == "/v1/operators");
    }

    [Fact]
    public async Task RecentActivityNamesEachActionAndWhoActed()
    {
        var editor = await _pages.CreateOperatorAsync("editor", projectIds: [_project.Id]);
        var asEditor = fixture.CreateKeyAdminClient(editor.Token);
        await asEditor.CreateKeyAsync(_project.Id, "dev", "audited-key", "secret");
        await KeyAdminClient.ReadAsync<EnvironmentDto>(await asEditor.Http.PostAsJsonAsync($"/v1/projects/{_project.Id}/environments", new { name = "qa" }));

        var page = await NewPageAsync();
        await page.GotoAsync($"/#/projects/{_project.Id}/settings");
        await SignInAsync(page);

        var rows = page.GetByRole(AriaRole.Table, new() { Name = "Recent activity" }).Locator("tbody tr");
        await Expect(rows).ToHaveCountAsync(3);
        string[][] expected =
        [
            ["Environment created", "—", "qa", editor.Operator.Name],
            ["Key created", "audited-key", "dev", editor.Operator.Name],
            ["Project created", "—", "—", "admin-token"],
        ];
        for (var i = 0; i < expected.Length; i++)
        {
            await Expect(rows.Nth(i).Locator("td:not(:first-child)")).ToHaveTextAsync(expected[i]);
        }
    }

    [Fact]
    public async Task OperatorsPageAndItsDialogsHaveNoAccessibilityViolations()
    {
        await _pages.CreateOperatorAsync("viewer", projectIds: [_project.Id], expiresAt: DateTimeOffset.UtcNow.AddDays(7));
        var revoked = await _pages.CreateOperatorAsync("editor");
        await KeyAdminClient.ReadAsync<OperatorDto>(
            await _admin.Http.PostAsJsonAsync($"/v1/operators/{revoked.Operator.Id}:revoke", new { }));
        var page = await NewPageAsync();
        var violations = new List<string>();
        await page.GotoAsync("/#/operators");
        await SignInAsync(page);
        await Expect(OperatorRow(page, revoked.Operator.Name)).ToContainTextAsync("Revoked");
        await CollectViolationsAsync(page, "operators", violations);
        await ConsoleBrowser.SaveScreenshotAsync(page, "operators");

        await page.GetByRole(AriaRole.Button, new() { Name = "New operator" }).ClickAsync();
        var dialog = page.GetByRole(AriaRole.Dialog, new() { Name = "New operator" });
        await CollectViolationsAsync(page, "New operator dialog", violations);
        var name = $"a11y-{Guid.NewGuid().ToString("N")[..8]}";
        await dialog.GetByLabel("Name", new() { Exact = true }).FillAsync(name);
        await dialog.GetByRole(AriaRole.Button, new() { Name = "Create operator" }).ClickAsync();
        var reveal = page.GetByRole(AriaRole.Region, new() { Name = $"Copy the token of “{name}” now" });
        await Expect(reveal).ToBeFocusedAsync();
        await CollectViolationsAsync(page, "operators, with a token revealed", violations);

        await page.GetByRole(AriaRole.Button, new() { Name = $"Revoke {name}", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Dialog, new() { Name = $"Revoke operator “{name}”?" })).ToBeVisibleAsync();
        await CollectViolationsAsync(page, "Revoke dialog", violations);

        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    private Task<IPage> NewPageAsync() => _pages.NewPageAsync();

    private Task<IPage> SignedInAtKeysAsync(string environment, string? token = null) => _pages.SignedInAtKeysAsync(_project, environment, token);

    private Task SignInAsync(IPage page, string? token = null) => _pages.SignInAsync(page, token);

    private static ILocator OperatorRow(IPage page, string name) => ConsolePages.OperatorRow(page, name);

    private static Regex ToRegex(object expected) =>
        expected as Regex ?? new Regex($"^{Regex.Escape((string)expected)}$");

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
