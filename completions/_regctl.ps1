# PowerShell completion for regctl. Load with:
# regctl completions powershell | Out-String | Invoke-Expression
# Candidates come from `regctl __complete`, which knows the commands and
# options and asks the registry for repositories and tags (2 s at most).

Register-ArgumentCompleter -Native -CommandName 'regctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $line = $commandAst.ToString()
    if ($cursorPosition -lt $line.Length) { $line = $line.Substring(0, $cursorPosition) }
    $words = @($line -split '\s+' | Where-Object { $_ -ne '' })
    if ($wordToComplete -eq '') { $words += '' }
    $answer = @(& $words[0] __complete --shell powershell -- @words 2>$null)
    if ($answer.Count -eq 0 -or $answer[0] -ne 'values') { return }
    $answer | Select-Object -Skip 1 | ForEach-Object {
        $value, $description = $_ -split "`t", 2
        if (-not $description) { $description = $value }
        [System.Management.Automation.CompletionResult]::new($value, $value, 'ParameterValue', $description)
    }
}
