# Fails on purpose (see tests/testsuite_examples.rs): the process still waits for the
# catalog, so the expected state is wrong and the step after it is skipped.
Feature: Failing on purpose: the process is in another state

  Scenario: Expecting the book on the shelf too soon
    Given the process is created from the "library" scenario
    And "Mia" is the "member" actor
    When "Mia" does "request" with:
      | name | Mia    |
      | card | L-0042 |
      | book | Dune   |
    Then the process is in "ready"
    And service "catalog" is notified
