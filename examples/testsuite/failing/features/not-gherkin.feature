# Fails on purpose: this is not valid Gherkin (the doc string is never closed).
Feature: Failing on purpose: a file that does not parse

  Scenario: A doc string without an end
    Given the process is created from the "library" scenario
    Then the result is:
      """yaml
      book: Dune
