using Keys.ApiKeys;
using Keys.FunctionalTests.Infrastructure;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Keys.FunctionalTests;

/// <summary>The Aspire dashboard as an operator uses it, in headless Chromium: key-admin's commands in its menu.</summary>
[Collection(HardenedAppCollection.Name)]
public sealed class DashboardUiTests(HardenedAppFixture fixture, ConsoleBrowser browser) : IClassFixture<ConsoleBrowser>
{
    [Fact]
    public async Task CreateOperatorTokenIsInKeyAdminsCommandsMenuAndIssuesAWorkingTokenShownOnce()
    {
        var name = $"dashboard-ui-{Guid.NewGuid():N}";
        var page = await SignInAsync();

        var row = page.GetByRole(AriaRole.Row, new() { Name = "Project: key-admin" });
        await row.GetByRole(AriaRole.Button, new() { Name = "Actions" }).ClickAsync(new() { Timeout = 60_000 });
        await page.GetByRole(AriaRole.Menuitem, new() { Name = "Commands" }).ClickAsync();
        foreach (var command in new[] { "Create API key", "Delete API key", "Roll API key" })
        {
            await Expect(page.GetByRole(AriaRole.Menuitem, new() { Name = command, Exact = true })).ToBeVisibleAsync();
        }

        await page.GetByRole(AriaRole.Menuitem, new() { Name = "Create operator token", Exact = true }).ClickAsync();
        // The dialog's fields are slotted into Fluent UI's shadow-DOM dialog: found by the dialog's id, not its role.
        await page.Locator("#interactions-input-dialog fluent-text-input input").First.FillAsync(name);
        await page.Locator("fluent-button", new() { HasTextString = "Create operator token" }).ClickAsync();

        var result = page.GetByRole(AriaRole.Region, new() { Name = "Text content" });
        await Expect(result).ToContainTextAsync("op_");
        var token = System.Text.RegularExpressions.Regex.Match(await result.InnerTextAsync(), "op_[0-9A-Za-z]{49}").Value;
        Assert.True(OperatorToken.IsWellFormed(token), "the result dialog shows no operator token");
        await ConsoleBrowser.SaveScreenshotAsync(page, "dashboard-create-operator-token", result);

        using var api = fixture.App.CreateHttpClient("key-admin", "http");
        api.DefaultRequestHeaders.Authorization = new("Bearer", token);
        var me = await api.GetFromJsonAsync<System.Text.Json.JsonElement>("/v1/operators/current");
        Assert.Equal((name, "viewer"), (me.GetProperty("name").GetString(), me.GetProperty("role").GetString()));
        api.DefaultRequestHeaders.Authorization = new("Bearer", fixture.AdminToken);
        var audit = await api.GetFromJsonAsync<System.Text.Json.JsonElement>("/v1/audit?limit=50");
        Assert.Contains(audit.GetProperty("events").EnumerateArray(), e =>
            e.GetProperty("action").GetString() == "operator.created" && e.GetProperty("operatorName").GetString() == name
            && e.GetProperty("actor").GetString() == "dashboard");
    }

    private async Task<IPage> SignInAsync()
    {
        var login = fixture.AppHostLog.First(line => line.StartsWith("Login to the dashboard at ", StringComparison.Ordinal));
        var loginUrl = new Uri(login["Login to the dashboard at ".Length..].Trim());
        var page = await browser.NewPageAsync(fixture.DashboardAddress);
        await page.GotoAsync(loginUrl.PathAndQuery);
        return page;
    }
}
