"""Load the shipped universe and sample household, and show what the engine sees."""

from engine import AccountType, load_household, load_universe

universe = load_universe()
household = load_household(universe=universe)
print(f"{household.name}: {len(household.accounts)} accounts, {len(household.goals)} goals, {len(household.lots)} lots")
for account in household.accounts:
    kind = "tax-deferred" if account.type.tax_deferred else "taxable"
    print(f"  {account.id:<11} {account.type.value:<12} {kind}")
taxable = [a.id for a in household.accounts if a.type is AccountType.TAXABLE]
print("VTI substitutes for loss harvesting:", universe.substitutes("VTI"), "| taxable accounts:", taxable)
