using Grpc.Core;
using Keys.ApiKeys;
using Keys.KeyAdmin.Data;
using Keys.KeyAdmin.Grpc;

namespace Keys.KeyAdmin.UnitTests;

public sealed class DomainErrorMappingTests
{
    private const string ProjectId = "prj_0123456789abcdefABCDEF";
    private const string KeyId = "key_0123456789abcdefABCDEF";
    private static readonly DateTime At = new(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc);

    [Theory]
    [InlineData(KeyAdminErrorKind.InvalidArgument, StatusCode.InvalidArgument)]
    [InlineData(KeyAdminErrorKind.NotFound, StatusCode.NotFound)]
    [InlineData(KeyAdminErrorKind.AlreadyExists, StatusCode.AlreadyExists)]
    // ABORTED is the status JSON transcoding answers with HTTP 409.
    [InlineData(KeyAdminErrorKind.Conflict, StatusCode.Aborted)]
    public void EachKindOfRefusalHasItsOwnStatus(KeyAdminErrorKind kind, StatusCode status) =>
        Assert.Equal((int)status, (int)ApiErrors.StatusOf(kind));

    [Fact]
    public void EveryKindOfRefusalHasAStatus() =>
        Assert.All(Enum.GetValues<KeyAdminErrorKind>(), kind => ApiErrors.StatusOf(kind));

    [Fact]
    public void ARefusalReachesClientsWithItsCodeAsTheReasonAndItsMessageUnchanged() =>
        ApiErrorAssert.Is(
            ApiErrors.From(new KeyAdminException(KeyAdminErrorKind.Conflict, "SOME_CODE", "Some message.")),
            StatusCode.Aborted, "SOME_CODE", "Some message.");

    public static TheoryData<string, StatusCode, string, string> Catalogue => new()
    {
        { "ProjectNotFound", StatusCode.NotFound, "PROJECT_NOT_FOUND", $"Project '{ProjectId}' does not exist." },
        { "EnvironmentNotFound", StatusCode.NotFound, "ENVIRONMENT_NOT_FOUND", $"Project '{ProjectId}' has no environment 'qa'." },
        { "KeyNotFound", StatusCode.NotFound, "KEY_NOT_FOUND", $"Key '{KeyId}' does not exist in environment 'dev'." },
        { "EnvironmentExists", StatusCode.AlreadyExists, "ENVIRONMENT_EXISTS", $"Project '{ProjectId}' already has an environment 'qa'." },
        { "KeyNameTaken", StatusCode.AlreadyExists, "KEY_NAME_TAKEN", "A key named 'my key' already exists in environment 'dev'." },
        { "ConfirmNameMismatch", StatusCode.InvalidArgument, "CONFIRM_NAME_MISMATCH", "confirmName does not match the key's name; nothing was deleted." },
        {
            "KeyAlreadyRolled", StatusCode.Aborted, "KEY_ALREADY_ROLLED",
            $"Key '{KeyId}' was already rolled and stops working at 2030-01-02T03:04:05.0000000Z; roll its replacement instead."
        },
        { "KeyRevoked", StatusCode.Aborted, "KEY_REVOKED", $"Key '{KeyId}' was deleted or rolled and no longer works; create a new key instead." },
        { "KeyExpired", StatusCode.Aborted, "KEY_EXPIRED", $"Key '{KeyId}' expired at 2030-01-02T03:04:05.0000000Z; create a new key instead." },
        { "KeyNotFoundByValue", StatusCode.NotFound, "KEY_NOT_FOUND", "No key with this value exists in the projects this token may see." },
        {
            "CidrsOnAPublishableKey", StatusCode.InvalidArgument, "ALLOWLIST_NOT_FOR_KEY_TYPE",
            "allowedCidrs is for secret keys, which servers send from known networks; a publishable key is limited by allowedOrigins."
        },
        {
            "OriginsOnASecretKey", StatusCode.InvalidArgument, "ALLOWLIST_NOT_FOR_KEY_TYPE",
            "allowedOrigins is for publishable keys, which browsers send with an Origin; a secret key is limited by allowedCidrs."
        },
        { "ExpiryRequired", StatusCode.InvalidArgument, "EXPIRY_REQUIRED", $"Project '{ProjectId}' requires secret keys to expire within 90 days: give expiresAt." },
        {
            "ExpiryTooLong", StatusCode.InvalidArgument, "EXPIRY_TOO_LONG",
            $"Project '{ProjectId}' requires secret keys to expire within 90 days: expiresAt must be no later than 2030-01-02T03:04:05.0000000Z."
        },
    };

    [Theory]
    [MemberData(nameof(Catalogue))]
    public void EveryRefusalInTheCatalogueReachesClientsWithItsStatusReasonAndMessage(
        string refusal, StatusCode status, string reason, string message) =>
        ApiErrorAssert.Is(ApiErrors.From(Refusal(refusal)), status, reason, message);

    [Fact]
    public void AnIdThatIsNotWellFormedIsNeverEchoed()
    {
        // The likeliest thing in an ID's place by mistake is the key itself, and messages end up in logs.
        var pasted = KeyString.Generate(ApiKeyType.Secret);

        Assert.Equal(
            "No project has this ID: project IDs look like prj_ and 22 letters and digits.",
            KeyAdminException.ProjectNotFound(pasted).Message);
        Assert.Equal(
            "The project has no environment of this name: environment names are lowercase letters, digits and '-'.",
            KeyAdminException.EnvironmentNotFound(ProjectId, pasted).Message);
        Assert.Equal(
            "No key has this ID: key IDs look like key_ and 22 letters and digits (not the key itself).",
            KeyAdminException.KeyNotFound(pasted, "dev").Message);
    }

    [Fact]
    public async Task TheInterceptorTurnsARefusalIntoTheApiError()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Intercept(_ => throw KeyAdminException.KeyRevoked(KeyId)));

        ApiErrorAssert.Is(error, StatusCode.Aborted, "KEY_REVOKED");
    }

    [Fact]
    public async Task TheInterceptorLetsEveryOtherOutcomeThroughUntouched()
    {
        var refused = ApiErrors.InvalidArgument("INVALID_LIMIT", "limit is from 1 to 1000.");
        var failed = new InvalidOperationException("Not a refusal.");

        Assert.Equal("answer", await Intercept(_ => Task.FromResult("answer")));
        Assert.Same(refused, await Assert.ThrowsAsync<RpcException>(() => Intercept(_ => throw refused)));
        Assert.Same(failed, await Assert.ThrowsAsync<InvalidOperationException>(() => Intercept(_ => throw failed)));
    }

    private static Task<string> Intercept(Func<string, Task<string>> handler) =>
        // The interceptor never reads the call's context, so none is made.
        new DomainErrorInterceptor().UnaryServerHandler<string, string>("request", null!, (request, _) => handler(request));

    private static KeyAdminException Refusal(string name) => name switch
    {
        "ProjectNotFound" => KeyAdminException.ProjectNotFound(ProjectId),
        "EnvironmentNotFound" => KeyAdminException.EnvironmentNotFound(ProjectId, "qa"),
        "KeyNotFound" => KeyAdminException.KeyNotFound(KeyId, "dev"),
        "EnvironmentExists" => KeyAdminException.EnvironmentExists(ProjectId, "qa"),
        "KeyNameTaken" => KeyAdminException.KeyNameTaken("my key", "dev"),
        "ConfirmNameMismatch" => KeyAdminException.ConfirmNameMismatch(),
        "KeyAlreadyRolled" => KeyAdminException.KeyAlreadyRolled(KeyId, At),
        "KeyRevoked" => KeyAdminException.KeyRevoked(KeyId),
        "KeyExpired" => KeyAdminException.KeyExpired(KeyId, At),
        "KeyNotFoundByValue" => KeyAdminException.KeyNotFoundByValue(),
        "CidrsOnAPublishableKey" => KeyAdminException.AllowlistNotForKeyType(ApiKeyType.Publishable),
        "OriginsOnASecretKey" => KeyAdminException.AllowlistNotForKeyType(ApiKeyType.Secret),
        "ExpiryRequired" => KeyAdminException.ExpiryRequired(ProjectId, 90),
        "ExpiryTooLong" => KeyAdminException.ExpiryTooLong(ProjectId, 90, At),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };
}
