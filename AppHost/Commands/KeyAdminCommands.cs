using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Keys.AppHost.Commands;

/// <summary>
/// What an operator can do to keys from the Aspire dashboard's menu on <c>key-admin</c>: create, delete and roll API keys,
/// and create operator tokens. Each command calls KeyAdmin's API with the dashboard's credential (audited as
/// "dashboard") and reports the API's answer, or its refusal in its own words, in the dashboard. A new secret is shown
/// once, in the command's result dialog; the notification that stays afterwards names only its masked form.
/// </summary>
public static class KeyAdminCommands
{
    public const string CreateApiKey = "create-api-key";
    public const string DeleteApiKey = "delete-api-key";
    public const string RollApiKey = "roll-api-key";
    public const string CreateOperatorToken = "create-operator-token";
    public const string FlushCaches = "flush-caches";

    private static readonly IReadOnlyList<KeyValuePair<string, string>> Expiries =
    [
        new("never", "Never"),
        new("7", "In 7 days"),
        new("30", "In 30 days"),
        new("90", "In 90 days"),
        new("365", "In a year"),
    ];

    public static IResourceBuilder<ProjectResource> WithKeyAdminCommands(
        this IResourceBuilder<ProjectResource> keyAdmin, IResourceBuilder<ParameterResource> dashboardToken)
    {
        Task<ExecuteCommandResult> Run(ExecuteCommandContext context, Func<KeyAdminApiClient, InteractionInputCollection, Task<ExecuteCommandResult>> action) =>
            RunAsync(context, keyAdmin, dashboardToken, action);

        keyAdmin.WithCommand(CreateApiKey, "Create API key", context => Run(context, async (api, args) =>
        {
            var project = Required(args, "project");
            var environment = Required(args, "environment");
            var body = new Dictionary<string, object?>
            {
                ["name"] = Required(args, "name"),
                ["type"] = Required(args, "type"),
                ["scopes"] = List(args.GetString("scopes")),
                ["expiresAt"] = ExpiresAt(args.GetString("expires")),
            };
            var created = await api.PostAsync($"/v1/projects/{Escape(project)}/environments/{Escape(environment)}/keys", body, context.CancellationToken);
            var key = created.GetProperty("key");
            context.Logger.LogInformation("Dashboard created key {KeyId} ({MaskedKey})", Text(key, "id"), Text(key, "maskedKey"));
            return CommandResults.Success(
                $"Created {Text(key, "type")} key '{Text(key, "name")}' ({Text(key, "maskedKey")}) in {environment}. Copy it from the result now: it is not shown again.",
                Text(created, "value"), CommandResultFormat.Text, displayImmediately: true);
        }), new CommandOptions
        {
            Description = "Issues an API key in an environment of a project. A secret key's value is shown once.",
            IconName = "KeyMultiple",
            Arguments =
            [
                ProjectInput(),
                EnvironmentInput(),
                new InteractionInput
                {
                    Name = "type", Label = "Type", InputType = InputType.Choice, Required = true, Value = "secret",
                    Options = [new("secret", "Secret (sk_): server-side, full permissions"), new("publishable", "Publishable (pk_): browsers and apps, read-only unless scoped")],
                },
                new InteractionInput
                {
                    Name = "name", Label = "Name", InputType = InputType.Text, Required = true, MaxLength = 64,
                    Description = "Letters, digits, '-', '_', '.' and spaces inside; unique in the environment.",
                },
                new InteractionInput
                {
                    Name = "scopes", Label = "Scopes", InputType = InputType.Text,
                    Description = "Optional, comma-separated resource:operation (operation: read, create, update, delete or *).",
                },
                ExpiresInput(),
            ],
        });

        keyAdmin.WithCommand(DeleteApiKey, "Delete API key", context => Run(context, async (api, args) =>
        {
            var keyId = Required(args, "keyId");
            await api.DeleteAsync(
                $"/v1/projects/{Escape(Required(args, "project"))}/environments/{Escape(Required(args, "environment"))}/keys/{Escape(keyId)}" +
                $"?confirmName={Escape(Required(args, "confirmName"))}",
                context.CancellationToken);
            context.Logger.LogInformation("Dashboard deleted key {KeyId}", keyId);
            return CommandResults.Success($"Deleted key {keyId}: every gateway refuses it from now on.");
        }), new CommandOptions
        {
            Description = "Deletes an API key and invalidates it on every gateway at once. Type the key's name to confirm.",
            IconName = "KeyOff",
            Arguments =
            [
                ProjectInput(),
                EnvironmentInput(),
                KeyIdInput(),
                new InteractionInput
                {
                    Name = "confirmName", Label = "Type the key's name to confirm", InputType = InputType.Text, Required = true, MaxLength = 64,
                    Description = "Apps using this key fail from the moment it is deleted. This cannot be undone.",
                },
            ],
        });

        keyAdmin.WithCommand(RollApiKey, "Roll API key", context => Run(context, async (api, args) =>
        {
            var keyId = Required(args, "keyId");
            var body = new { gracePeriodSeconds = int.Parse(Required(args, "grace"), CultureInfo.InvariantCulture) };
            var rolled = await api.PostAsync(
                $"/v1/projects/{Escape(Required(args, "project"))}/environments/{Escape(Required(args, "environment"))}/keys/{Escape(keyId)}:roll",
                body, context.CancellationToken);
            var key = rolled.GetProperty("key");
            context.Logger.LogInformation("Dashboard rolled key {KeyId} into {NewKeyId} ({MaskedKey})", keyId, Text(key, "id"), Text(key, "maskedKey"));
            return CommandResults.Success(
                $"Rolled key {keyId} into {Text(key, "id")} ({Text(key, "maskedKey")}). Copy the new key from the result now: it is not shown again.",
                Text(rolled, "value"), CommandResultFormat.Text, displayImmediately: true);
        }), new CommandOptions
        {
            Description = "Replaces an API key with a new one; the old one keeps working for the grace period, then every gateway refuses it.",
            IconName = "ArrowSync",
            Arguments =
            [
                ProjectInput(),
                EnvironmentInput(),
                KeyIdInput(),
                new InteractionInput
                {
                    Name = "grace", Label = "The old key keeps working", InputType = InputType.Choice, Required = true, Value = "3600",
                    Options = [new("0", "Not at all: it stops now"), new("3600", "For 1 hour"), new("86400", "For 24 hours"), new("604800", "For 7 days")],
                },
            ],
        });

        keyAdmin.WithCommand(CreateOperatorToken, "Create operator token", context => Run(context, async (api, args) =>
        {
            var body = new Dictionary<string, object?>
            {
                ["name"] = Required(args, "name"),
                ["role"] = Required(args, "role"),
                ["projectIds"] = List(args.GetString("projects")),
                ["expiresAt"] = ExpiresAt(args.GetString("expires")),
            };
            var created = await api.PostAsync("/v1/operators", body, context.CancellationToken);
            var issued = created.GetProperty("operator");
            context.Logger.LogInformation("Dashboard created operator {OperatorId} ({MaskedToken})", Text(issued, "id"), Text(issued, "maskedToken"));
            return CommandResults.Success(
                $"Created {Text(issued, "role")} '{Text(issued, "name")}' ({Text(issued, "maskedToken")}). Copy the token from the result now: it is not shown again.",
                Text(created, "token"), CommandResultFormat.Text, displayImmediately: true);
        }), new CommandOptions
        {
            Description = "Issues a token for a person or a job, with a role, for the console, the CLI and the API. Shown once.",
            IconName = "PersonKey",
            Arguments =
            [
                new InteractionInput
                {
                    Name = "name", Label = "Name", InputType = InputType.Text, Required = true, MaxLength = 64,
                    Description = "Who or what holds the token, e.g. ana or ci-deploy.",
                },
                new InteractionInput
                {
                    Name = "role", Label = "Role", InputType = InputType.Choice, Required = true, Value = "viewer",
                    Options = [new("viewer", "Viewer: reads"), new("editor", "Editor: also changes projects and keys"), new("owner", "Owner: also manages operators")],
                },
                new InteractionInput
                {
                    Name = "projects", Label = "Projects", InputType = InputType.Text,
                    Description = "Optional, comma-separated project IDs the token is limited to (editor and viewer only). Empty: every project.",
                },
                ExpiresInput(),
            ],
        });

        return keyAdmin;
    }

    /// <summary>
    /// <b>Flush caches</b> on KeyValidation (<paramref name="target"/> <c>key-validation</c>: its memory and Redis records,
    /// and so the gateways' too) or on the gateway (<c>gateways</c>: only the near caches), through KeyAdmin, which every
    /// replica listens to: the command flushes all of them, whichever replica's menu it was run from.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithFlushCachesCommand(
        this IResourceBuilder<ProjectResource> resource, IResourceBuilder<ProjectResource> keyAdmin,
        IResourceBuilder<ParameterResource> dashboardToken, string target)
    {
        return resource.WithCommand(FlushCaches, "Flush caches", context => RunAsync(context, keyAdmin, dashboardToken, async (api, _) =>
        {
            var flushed = await api.PostAsync("/v1/caches:flush", new { target }, context.CancellationToken);
            var reached = flushed.TryGetProperty("replicasReached", out var r) ? r.ToString() : "0";
            context.Logger.LogInformation("Dashboard flushed caches: {Target}, {Replicas} KeyValidation replicas reached", target, reached);
            return CommandResults.Success($"Flushed {target} caches: {reached} KeyValidation replica(s) reached; they reload from KeyAdmin.");
        }), new CommandOptions
        {
            Description = target == "gateways"
                ? "Makes every gateway and internal service forget the keys it cached and ask KeyValidation again. Revocation never needs it."
                : "Makes every KeyValidation replica (and so every gateway) forget cached key records and reload them from KeyAdmin. Revocation never needs it.",
            IconName = "ArrowClockwise",
            ConfirmationMessage = "Flush the caches? Every key is looked up again, which adds load for a moment.",
        });
    }

    // Every command: KeyAdmin's API with the dashboard's token, and a refusal reported in KeyAdmin's words.
    private static async Task<ExecuteCommandResult> RunAsync(
        ExecuteCommandContext context, IResourceBuilder<ProjectResource> keyAdmin, IResourceBuilder<ParameterResource> dashboardToken,
        Func<KeyAdminApiClient, InteractionInputCollection, Task<ExecuteCommandResult>> action)
    {
        try
        {
            var token = await dashboardToken.Resource.GetValueAsync(context.CancellationToken)
                ?? throw new KeyAdminApiException("The dashboard has no credential for KeyAdmin (parameter dashboard-token).");
            return await action(new KeyAdminApiClient(new Uri(keyAdmin.GetEndpoint("http").Url), token), context.Arguments);
        }
        catch (KeyAdminApiException ex)
        {
            context.Logger.LogWarning("Dashboard command refused: {Reason}", ex.Message);
            return CommandResults.Failure(ex.Message);
        }
    }

    private static InteractionInput ProjectInput() => new()
    {
        Name = "project",
        Label = "Project ID",
        InputType = InputType.Text,
        Required = true,
        Placeholder = "prj_…",
        Description = "The project's ID, from the console's project settings.",
    };

    private static InteractionInput EnvironmentInput() => new()
    {
        Name = "environment",
        Label = "Environment",
        InputType = InputType.Text,
        Required = true,
        Value = "dev",
        MaxLength = 32,
    };

    private static InteractionInput KeyIdInput() => new()
    {
        Name = "keyId",
        Label = "Key ID",
        InputType = InputType.Text,
        Required = true,
        Placeholder = "key_…",
        Description = "The key's ID (key_…), as the console or 'keysctl keys list' show it: not the key itself.",
    };

    private static InteractionInput ExpiresInput() => new()
    {
        Name = "expires",
        Label = "Expires",
        InputType = InputType.Choice,
        Required = true,
        Value = "never",
        Options = Expiries,
    };

    private static string Required(InteractionInputCollection args, string name) =>
        args.GetString(name)?.Trim() is { Length: > 0 } value
            ? value
            : throw new KeyAdminApiException($"'{args[name].Label}' is required.");

    private static string[] List(string? commaSeparated) =>
        (commaSeparated ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static DateTimeOffset? ExpiresAt(string? days) =>
        int.TryParse(days, NumberStyles.None, CultureInfo.InvariantCulture, out var d) ? DateTimeOffset.UtcNow.AddDays(d) : null;

    private static string Escape(string segment) => Uri.EscapeDataString(segment);

    private static string Text(JsonElement element, string property) =>
        element.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString()! : "";
}
