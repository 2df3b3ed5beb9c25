using Keys.KeyAdmin.OpenApi;

namespace Keys.KeyAdmin.UnitTests;

public sealed class OpenApiConventionsTests
{
    [Theory]
    [InlineData("The project settings: its ID, name and environments.", "The project settings: its ID, name and environments.")]
    [InlineData("Deletes the key and invalidates it on every gateway. `confirm_name` must equal the key's name.", "Deletes the key and invalidates it on every gateway.")]
    [InlineData("Which key is this? Finds a key by its full value.", "Which key is this?")]
    [InlineData(
        "Changes a key in place, keeping its value: only the fields in `update_mask` (REST: only the fields sent). Every\ngateway applies the change.",
        "Changes a key in place, keeping its value.")]
    [InlineData("Names e.g. this one stay whole.", "Names e.g. this one stay whole.")]
    public void ASummaryIsTheCommentsFirstSentenceOnOneShortLine(string comment, string summary) =>
        Assert.Equal(summary, OperationConventionsFilter.SummaryOf(comment));

    [Theory]
    [InlineData("CreateKey", "createKey")]
    [InlineData("ListAuditEvents", "listAuditEvents")]
    public void AnOperationIdIsItsRpcInCamelCase(string rpc, string operationId) =>
        Assert.Equal(operationId, OperationConventionsFilter.CamelCase(rpc));
}
